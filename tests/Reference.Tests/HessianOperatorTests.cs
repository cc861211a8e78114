namespace SpectralMonitor.Reference.Tests;

public class HessianOperatorTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    public void IsSymmetricToRoundingAndCountsApplications(double shift)
    {
        var (objective, batch, theta) = MlpObjectiveTests.Problem(HiddenActivation.Gelu, LossKind.CrossEntropy);
        var op = new HessianOperator(objective, theta, batch, shift);
        Assert.True(op.IsSymmetric);
        Assert.True(op.SupportsTranspose);
        Assert.Equal(theta.Length, op.Dimension);
        Assert.Equal(0, op.Applications);

        var u = op.Space.CreateVector();
        var v = op.Space.CreateVector();
        var hu = op.Space.CreateVector();
        var hv = op.Space.CreateVector();
        op.Space.FillRandom(u, Estimators.RandomKind.Gaussian, 1);
        op.Space.FillRandom(v, Estimators.RandomKind.Gaussian, 2);
        op.Apply(u, hu);
        op.Apply(v, hv);
        op.ApplyTranspose(v, hv);
        Assert.Equal(2, op.Applications);
        Assert.Equal(1, op.TransposeApplications);

        // ⟨u, Hv⟩ and ⟨Hu, v⟩ are the same bilinear form summed along different paths: equal to rounding,
        // a few ε times Σ|u_i (Hv)_i| (here 1e-13 relative to that sum, ~500 ε).
        double left = op.Space.Dot(u, hv);
        double right = op.Space.Dot(hu, v);
        double magnitude = 0;
        for (int i = 0; i < u.Length; i++)
        {
            magnitude += Math.Abs(u[i] * hv[i]);
        }

        Assert.True(Math.Abs(left - right) <= 1e-13 * magnitude, $"⟨u,Hv⟩ = {left}, ⟨Hu,v⟩ = {right}");

        // The shift adds λv exactly to the objective's HVP.
        var plain = new double[theta.Length];
        objective.HessianVectorProduct(theta, batch, v, plain);
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.Equal(plain[i] + (shift * v[i]), hv[i], 15);
        }
    }

    [Fact]
    public void ParametersAreCopiedAtConstruction()
    {
        var (objective, batch, theta) = MlpObjectiveTests.Problem(HiddenActivation.Tanh, LossKind.MeanSquaredError);
        var op = new HessianOperator(objective, theta, batch);
        var v = Numerics.RandomVector(theta.Length, 3);
        var before = new double[theta.Length];
        var after = new double[theta.Length];
        op.Apply(v, before);
        theta[0] += 1;
        op.Apply(v, after);
        Assert.Equal(before, after);
    }

    [Fact]
    public void RejectsInvalidArguments()
    {
        var (objective, batch, theta) = MlpObjectiveTests.Problem(HiddenActivation.Tanh, LossKind.MeanSquaredError);
        var ex = Assert.Throws<ArgumentException>(() => new HessianOperator(objective, theta, batch, double.NaN));
        Assert.Equal("shift", ex.ParamName);
        Assert.Contains("NaN", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new HessianOperator(objective, theta.AsSpan(2), batch));
        Assert.Equal("parameters", ex.ParamName);
        var op = new HessianOperator(objective, theta, batch);
        var x = op.Space.CreateVector();
        Assert.Throws<ArgumentException>(() => op.Apply(x, x));
    }
}
