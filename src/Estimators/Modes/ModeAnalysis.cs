using System.Numerics;

namespace SpectralMonitor.Estimators.Modes;

/// <summary>One curvature mode of the update operator: the 1×1 or 2×2 block B(λ) and what it does.</summary>
/// <param name="Curvature">The eigenvalue λ of the symmetric curvature operator.</param>
/// <param name="Eigenvalues">The block's eigenvalues (one or two), larger real part last.</param>
/// <param name="Discriminant">trace² − 4·det: negative inside the oscillatory window, zero at an exceptional point (+∞ for 1×1 blocks).</param>
/// <param name="EigenvectorCondition">κ of the block's unit eigenvector matrix: 1 for orthogonal eigenvectors, +∞ at an exceptional point.</param>
/// <param name="TransientGrowth">max over k = 1…horizon of ‖B(λ)ᵏ‖₂.</param>
/// <param name="TransientArgmax">The k attaining <paramref name="TransientGrowth"/>.</param>
public sealed record CurvatureMode(
    double Curvature,
    IReadOnlyList<Complex> Eigenvalues,
    double Discriminant,
    double EigenvectorCondition,
    double TransientGrowth,
    int TransientArgmax);

/// <summary>The mode-resolved reading of an update operator (see <see cref="ModeAnalysis"/>).</summary>
/// <param name="Block">The optimizer's block form.</param>
/// <param name="SpectralRadius">ρ(J) over the analysed modes.</param>
/// <param name="OscillatoryRadius">ρ_osc: the largest |z| with Re z &lt; 0 (the branch that crosses −1 at the edge of stability); 0 if none.</param>
/// <param name="MonotoneRadius">ρ_mono: the largest |z| with Re z ≥ 0 (for real z, the largest real eigenvalue; above 1 for saddle-escape modes).</param>
/// <param name="EigenvectorCondition">κ(V) over all analysed modes (the paper's whole-operator quantity).</param>
/// <param name="TopEigenvectorCondition">κ(V) over the <paramref name="TopModeCount"/> largest-curvature modes.</param>
/// <param name="TopModeCount">How many top modes <paramref name="TopEigenvectorCondition"/> covers.</param>
/// <param name="TransientGrowth">max over modes and k ≤ horizon of ‖B(λ)ᵏ‖₂ (equals max‖Jᵏ‖₂ when the eigenbasis is orthonormal).</param>
/// <param name="TransientArgmax">The k attaining <paramref name="TransientGrowth"/>.</param>
/// <param name="Horizon">The horizon K used for transient growth.</param>
/// <param name="Sharpness">The largest curvature λ_max.</param>
/// <param name="StabilityEdge">The curvature at which a mode's eigenvalue reaches −1.</param>
/// <param name="UpperExceptionalPoint">The larger curvature at which B(λ) is defective (NaN without momentum).</param>
/// <param name="LowerExceptionalPoint">The smaller one (NaN without momentum).</param>
/// <param name="ExceptionalPointDistance">(λ_EP+ − λ_max)/λ_EP+: 1 far below, 0 at the upper exceptional point, negative beyond (NaN without momentum).</param>
/// <param name="EdgeDistance">(λ_edge − λ_max)/λ_edge: 0 at the stability edge, negative beyond.</param>
/// <param name="Modes">Every analysed mode, by decreasing curvature.</param>
public sealed record ModeAnalysisResult(
    UpdateBlock Block,
    double SpectralRadius,
    double OscillatoryRadius,
    double MonotoneRadius,
    double EigenvectorCondition,
    double TopEigenvectorCondition,
    int TopModeCount,
    double TransientGrowth,
    int TransientArgmax,
    int Horizon,
    double Sharpness,
    double StabilityEdge,
    double UpperExceptionalPoint,
    double LowerExceptionalPoint,
    double ExceptionalPointDistance,
    double EdgeDistance,
    IReadOnlyList<CurvatureMode> Modes)
{
    /// <summary>λ_max / λ_edge: 1 at the edge of stability.</summary>
    public double SharpnessToEdge => Sharpness / StabilityEdge;

    /// <summary>The precursor bound κ(V)·ρ(J)ᵏ on ‖Jᵏ‖ for k = <see cref="Horizon"/>.</summary>
    public double PrecursorBound => EigenvectorCondition * Math.Pow(SpectralRadius, Horizon);
}

/// <summary>
/// Closed-form, mode-by-mode analysis of an optimizer's linearized update J from the eigenvalues of the symmetric
/// curvature operator it is block diagonal over (DESIGN.md §2). Given the whole spectrum it is exact; given the
/// Ritz values of the ends and quadrature nodes of the bulk, it is exact for those modes.
/// </summary>
public static class ModeAnalysis
{
    /// <summary>Analyses the modes at the given curvatures.</summary>
    /// <param name="block">The optimizer's block form (<see cref="UpdateBlock.For{TVec}"/>).</param>
    /// <param name="curvatures">Eigenvalues of the curvature operator (any order; finite).</param>
    /// <param name="topModeCount">How many of the largest curvatures count as "top" modes (≥ 1).</param>
    /// <param name="horizon">Transient-growth horizon K (≥ 1).</param>
    /// <exception cref="ArgumentException">Empty or non-finite curvatures, or a count out of range.</exception>
    public static ModeAnalysisResult Analyze(UpdateBlock block, IReadOnlyList<double> curvatures, int topModeCount = 5, int horizon = 50)
    {
        ArgumentNullException.ThrowIfNull(block);
        Validate(curvatures);
        ArgumentOutOfRangeException.ThrowIfLessThan(topModeCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);

        var sorted = curvatures.OrderByDescending(c => c).ToArray();
        var modes = new CurvatureMode[sorted.Length];
        for (int i = 0; i < sorted.Length; i++)
        {
            modes[i] = AnalyzeMode(block, sorted[i], horizon);
        }

        var radius = NonNormality.SpectralRadius.Branches([.. modes.SelectMany(m => m.Eigenvalues)]);
        double kappa = 1, kappaTop = 1, growth = 0;
        int argmax = 1;
        int top = Math.Min(topModeCount, modes.Length);
        for (int i = 0; i < modes.Length; i++)
        {
            var mode = modes[i];
            kappa = Math.Max(kappa, mode.EigenvectorCondition);
            if (i < top)
            {
                kappaTop = Math.Max(kappaTop, mode.EigenvectorCondition);
            }

            if (mode.TransientGrowth > growth)
            {
                growth = mode.TransientGrowth;
                argmax = mode.TransientArgmax;
            }
        }

        double sharpness = sorted[0];
        double edge = block.StabilityEdge;
        var (lowerEp, upperEp) = block.ExceptionalPoints;
        return new ModeAnalysisResult(
            block,
            radius.Radius,
            radius.Oscillatory,
            radius.Monotone,
            kappa,
            kappaTop,
            top,
            growth,
            argmax,
            horizon,
            sharpness,
            edge,
            upperEp,
            lowerEp,
            double.IsNaN(upperEp) ? double.NaN : (upperEp - sharpness) / upperEp,
            double.IsPositiveInfinity(edge) ? 1 : (edge - sharpness) / edge,
            modes);
    }

    private static void Validate(IReadOnlyList<double> curvatures)
    {
        ArgumentNullException.ThrowIfNull(curvatures);
        if (curvatures.Count == 0)
        {
            throw new ArgumentException("At least one curvature is needed.", nameof(curvatures));
        }

        for (int i = 0; i < curvatures.Count; i++)
        {
            if (!double.IsFinite(curvatures[i]))
            {
                throw new ArgumentException($"Curvature {i} is {curvatures[i]}; every curvature must be finite.", nameof(curvatures));
            }
        }
    }

    /// <summary>Analyses a single mode.</summary>
    /// <param name="block">The optimizer's block form.</param>
    /// <param name="curvature">The curvature λ.</param>
    /// <param name="horizon">Transient-growth horizon K (≥ 1).</param>
    public static CurvatureMode AnalyzeMode(UpdateBlock block, double curvature, int horizon)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        if (block.Size == 1)
        {
            double z = block.D0 - (block.Alpha * curvature);
            double magnitude = Math.Abs(z);

            // ‖zᵏ‖ is monotone in k: the maximum is at k = 1 when |z| ≤ 1 and at the horizon otherwise.
            return new CurvatureMode(curvature, [new Complex(z, 0)], double.PositiveInfinity, 1, magnitude <= 1 ? magnitude : Math.Pow(magnitude, horizon), magnitude <= 1 ? 1 : horizon);
        }

        double a = block.D0 - (block.Alpha * curvature);
        double d = block.Delta;
        double beta = block.Beta;
        double discriminant = block.Discriminant(curvature);

        // Δ = t² − 4·det is computed with an error of a few ε·(t² + 4|det|): below that it is zero to working
        // precision, the block is numerically defective, and its eigenvector condition is reported as +∞.
        double t = block.Trace(curvature);
        double roundoff = 8 * Precision.MachineEpsilon * ((t * t) + (4 * Math.Abs(block.Determinant(curvature))));
        if (Math.Abs(discriminant) <= roundoff)
        {
            discriminant = 0;
        }

        // Eigenvalues t/2 ± √Δ/2 and eigenvectors vⱼ = (β, a − zⱼ) = (β, e ∓ r) with e = (a − d)/2, r = √Δ/2.
        double e = (a - d) / 2;
        Complex r = discriminant >= 0 ? new Complex(Math.Sqrt(discriminant) / 2, 0) : new Complex(0, Math.Sqrt(-discriminant) / 2);
        Complex half = new((a + d) / 2, 0);
        Complex z1 = half - r;
        Complex z2 = half + r;

        // For two unit vectors, σ(V) = √(1 ± c) with c = |v₁ᴴv₂|, so κ = √((1+c)/(1−c)) = (1 + c)/sin φ, and
        // sin²φ = |det[v₁ v₂]|²/(‖v₁‖²‖v₂‖²) with det = 2βr exactly: no cancellation as the vectors align.
        Complex v1b = e - r;
        Complex v2b = e + r;
        double n1 = Math.Sqrt((beta * beta) + (v1b.Magnitude * v1b.Magnitude));
        double n2 = Math.Sqrt((beta * beta) + (v2b.Magnitude * v2b.Magnitude));
        double sine = Math.Abs(beta) * Math.Sqrt(Math.Abs(discriminant)) / (n1 * n2);
        double cosine = ((beta * beta) + (Complex.Conjugate(v1b) * v2b)).Magnitude / (n1 * n2);
        double kappa = sine == 0 ? double.PositiveInfinity : (1 + Math.Min(cosine, 1)) / sine;

        var (growth, argmax) = TransientGrowth2x2(a, -beta, block.Gamma * curvature, d, horizon);
        Complex[] eigenvalues = z1.Real <= z2.Real ? [z1, z2] : [z2, z1];
        return new CurvatureMode(curvature, eigenvalues, discriminant, kappa, growth, argmax);
    }

    /// <summary>max over k = 1…horizon of ‖Bᵏ‖₂ for B = [[a, b], [c, d]], by repeated multiplication.</summary>
    internal static (double Max, int Argmax) TransientGrowth2x2(double a, double b, double c, double d, int horizon)
    {
        double pa = a, pb = b, pc = c, pd = d;
        double best = -1;
        int argmax = 1;
        for (int k = 1; k <= horizon; k++)
        {
            double norm = Norm2x2(pa, pb, pc, pd);
            if (norm > best)
            {
                best = norm;
                argmax = k;
            }

            if (!double.IsFinite(norm))
            {
                break;
            }

            (pa, pb, pc, pd) = ((pa * a) + (pb * c), (pa * b) + (pb * d), (pc * a) + (pd * c), (pc * b) + (pd * d));
        }

        return (best, argmax);
    }

    /// <summary>The spectral norm of a real 2×2 matrix in closed form.</summary>
    internal static double Norm2x2(double a, double b, double c, double d)
    {
        // σ²_max = (‖B‖²_F + √(‖B‖⁴_F − 4 det²)) / 2; scale first so that squares neither overflow nor underflow.
        double scale = Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), Math.Max(Math.Abs(c), Math.Abs(d)));
        if (scale == 0 || !double.IsFinite(scale))
        {
            return scale;
        }

        a /= scale;
        b /= scale;
        c /= scale;
        d /= scale;
        double frobenius = (a * a) + (b * b) + (c * c) + (d * d);
        double det = (a * d) - (b * c);
        double root = Math.Sqrt(Math.Max(0, (frobenius * frobenius) - (4 * det * det)));
        return scale * Math.Sqrt((frobenius + root) / 2);
    }
}
