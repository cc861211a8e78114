using System.Numerics.Tensors;

namespace SpectralMonitor.Reference;

/// <summary>
/// The training loss of an <see cref="MlpArchitecture"/> on a <see cref="Batch"/> as a function of the flat parameter
/// vector, with its exact gradient (backpropagation) and exact Hessian-vector products by Pearlmutter's R-operator
/// (a forward R-pass followed by a backward R-pass), all in double precision.
/// </summary>
/// <remarks>
/// <para>One call costs about one forward and one backward pass (an HVP about twice that); no HVP is formed by finite
/// differences. Work arrays are kept between calls and grow to the largest batch seen, so steady-state calls do not
/// allocate.</para>
/// <para>Not thread-safe: the work arrays are shared by all calls on one instance. Use one objective per thread.</para>
/// </remarks>
public sealed class MlpObjective
{
    private readonly int[] _sizes;
    private readonly int _layers;
    private readonly int _maxWidth;
    private readonly double[] _scratchGradient;
    private int _capacity;

    // Per layer l (0 … L−1), rows = samples: pre-activations z, activations a = σ(z), σ′(z), σ″(z),
    // and their directional derivatives R{z}, R{a} for the HVP.
    private double[][] _z = [];
    private double[][] _a = [];
    private double[][] _d1 = [];
    private double[][] _d2 = [];
    private double[][] _rz = [];
    private double[][] _ra = [];

    // Back-propagated quantities (rows × widest layer): δ = ∂L/∂z and R{δ}, the next layer's, and ∂L/∂a, R{∂L/∂a}.
    private double[] _delta = [];
    private double[] _deltaNext = [];
    private double[] _rdelta = [];
    private double[] _rdeltaNext = [];
    private double[] _gradA = [];
    private double[] _rgradA = [];
    private double[] _probabilities = [];

    /// <summary>Creates the objective.</summary>
    /// <param name="architecture">The network.</param>
    /// <param name="loss">The loss function.</param>
    /// <exception cref="ArgumentException"><paramref name="loss"/> is not a <see cref="LossKind"/>.</exception>
    public MlpObjective(MlpArchitecture architecture, LossKind loss)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (!Enum.IsDefined(loss))
        {
            throw new ArgumentException($"loss {(int)loss} is not a LossKind.", nameof(loss));
        }

        Architecture = architecture;
        LossKind = loss;
        _sizes = [.. architecture.LayerSizes];
        _layers = architecture.LayerCount;
        _maxWidth = _sizes.Max();
        _scratchGradient = new double[architecture.ParameterCount];
    }

    /// <summary>The network.</summary>
    public MlpArchitecture Architecture { get; }

    /// <summary>The loss function.</summary>
    public LossKind LossKind { get; }

    /// <summary>Length of the parameter vector.</summary>
    public int ParameterCount => Architecture.ParameterCount;

    /// <summary>The loss at <paramref name="parameters"/> on <paramref name="batch"/>.</summary>
    /// <exception cref="ArgumentException">Lengths do not match the architecture, or the batch does not fit the model and loss.</exception>
    public double Loss(ReadOnlySpan<double> parameters, Batch batch)
    {
        Check(parameters, batch);
        Forward(parameters, batch, derivatives: false);
        return OutputLoss(batch, gradientWanted: false);
    }

    /// <summary>The loss at <paramref name="parameters"/> on <paramref name="batch"/>, and its gradient.</summary>
    /// <param name="parameters">The flat parameter vector.</param>
    /// <param name="batch">The samples.</param>
    /// <param name="gradient">Receives ∇L (length <see cref="ParameterCount"/>).</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">Lengths do not match the architecture, or the batch does not fit the model and loss.</exception>
    public double LossAndGradient(ReadOnlySpan<double> parameters, Batch batch, Span<double> gradient)
    {
        Check(parameters, batch);
        Architecture.CheckParameters(gradient.Length, nameof(gradient));
        Forward(parameters, batch, derivatives: true);
        double loss = OutputLoss(batch, gradientWanted: true);
        Backward(parameters, batch, gradient);
        return loss;
    }

    /// <summary>Computes the Hessian-vector product <c>H·v</c> of the loss at <paramref name="parameters"/> on <paramref name="batch"/>.</summary>
    /// <param name="parameters">The flat parameter vector.</param>
    /// <param name="batch">The samples.</param>
    /// <param name="vector">The direction <c>v</c>.</param>
    /// <param name="result">Receives <c>H·v</c>; must not overlap <paramref name="vector"/>.</param>
    /// <exception cref="ArgumentException">Lengths do not match the architecture, or the batch does not fit the model and loss.</exception>
    public void HessianVectorProduct(ReadOnlySpan<double> parameters, Batch batch, ReadOnlySpan<double> vector, Span<double> result) =>
        LossGradientAndHessianVectorProduct(parameters, batch, vector, _scratchGradient, result);

    /// <summary>
    /// Computes the loss, the gradient and the Hessian-vector product <c>H·v</c> in one pass (the HVP needs the
    /// gradient's intermediate quantities anyway).
    /// </summary>
    /// <param name="parameters">The flat parameter vector.</param>
    /// <param name="batch">The samples.</param>
    /// <param name="vector">The direction <c>v</c>.</param>
    /// <param name="gradient">Receives ∇L.</param>
    /// <param name="result">Receives <c>H·v</c>; must not overlap <paramref name="vector"/> or <paramref name="gradient"/>.</param>
    /// <returns>The loss.</returns>
    /// <exception cref="ArgumentException">Lengths do not match the architecture, the batch does not fit the model and loss, or outputs overlap inputs.</exception>
    public double LossGradientAndHessianVectorProduct(ReadOnlySpan<double> parameters, Batch batch, ReadOnlySpan<double> vector, Span<double> gradient, Span<double> result)
    {
        Check(parameters, batch);
        Architecture.CheckParameters(vector.Length, nameof(vector));
        Architecture.CheckParameters(gradient.Length, nameof(gradient));
        Architecture.CheckParameters(result.Length, nameof(result));
        if (result.Overlaps(vector) || result.Overlaps(gradient) || result.Overlaps(parameters))
        {
            throw new ArgumentException("result must not overlap parameters, vector or gradient.", nameof(result));
        }

        Forward(parameters, batch, derivatives: true);
        double loss = OutputLoss(batch, gradientWanted: true);
        ForwardR(parameters, batch, vector);
        OutputR(batch);
        BackwardR(parameters, batch, vector, gradient, result);
        return loss;
    }

    /// <summary>Writes the network outputs (row-major <c>Count × n_L</c>, before any softmax) into <paramref name="outputs"/>.</summary>
    /// <exception cref="ArgumentException">Lengths do not match.</exception>
    public void Predict(ReadOnlySpan<double> parameters, Batch batch, Span<double> outputs)
    {
        Architecture.CheckParameters(parameters.Length, nameof(parameters));
        ArgumentNullException.ThrowIfNull(batch);
        CheckInputWidth(batch);
        int length = batch.Count * Architecture.OutputDimension;
        if (outputs.Length != length)
        {
            throw new ArgumentException($"outputs has length {outputs.Length}; {batch.Count} samples × {Architecture.OutputDimension} outputs need {length}.", nameof(outputs));
        }

        Forward(parameters, batch, derivatives: false);
        _z[_layers - 1].AsSpan(0, length).CopyTo(outputs);
    }

    /// <summary>
    /// The dense Hessian, column by column from <see cref="ParameterCount"/> HVPs with unit vectors (for small models
    /// and tests; not symmetrized, so it shows the HVP's own rounding).
    /// </summary>
    /// <returns>A new <c>n × n</c> matrix whose column j is <c>H·e_j</c>.</returns>
    /// <exception cref="ArgumentException">Lengths do not match the architecture, or the batch does not fit the model and loss.</exception>
    public double[,] DenseHessian(ReadOnlySpan<double> parameters, Batch batch)
    {
        int n = ParameterCount;
        var hessian = new double[n, n];
        var unit = new double[n];
        var column = new double[n];
        for (int j = 0; j < n; j++)
        {
            unit[j] = 1;
            HessianVectorProduct(parameters, batch, unit, column);
            unit[j] = 0;
            for (int i = 0; i < n; i++)
            {
                hessian[i, j] = column[i];
            }
        }

        return hessian;
    }

    private void Check(ReadOnlySpan<double> parameters, Batch batch)
    {
        Architecture.CheckParameters(parameters.Length, nameof(parameters));
        ArgumentNullException.ThrowIfNull(batch);
        CheckInputWidth(batch);
        if (LossKind == LossKind.CrossEntropy && !batch.IsClassification)
        {
            throw new ArgumentException("batch holds regression targets; the cross-entropy loss needs class labels.", nameof(batch));
        }

        if (LossKind == LossKind.MeanSquaredError && batch.IsClassification)
        {
            throw new ArgumentException("batch holds class labels; the mean-squared-error loss needs regression targets.", nameof(batch));
        }

        if (batch.OutputDimension != Architecture.OutputDimension)
        {
            throw new ArgumentException($"batch has output dimension {batch.OutputDimension}; the architecture {Architecture} outputs {Architecture.OutputDimension}.", nameof(batch));
        }
    }

    private void CheckInputWidth(Batch batch)
    {
        if (batch.InputDimension != Architecture.InputDimension)
        {
            throw new ArgumentException($"batch has input dimension {batch.InputDimension}; the architecture {Architecture} takes {Architecture.InputDimension}.", nameof(batch));
        }
    }

    private void EnsureCapacity(int rows)
    {
        if (rows <= _capacity)
        {
            return;
        }

        int capacity = Math.Max(rows, 2 * _capacity);
        _z = new double[_layers][];
        _a = new double[_layers][];
        _d1 = new double[_layers][];
        _d2 = new double[_layers][];
        _rz = new double[_layers][];
        _ra = new double[_layers][];
        for (int l = 0; l < _layers; l++)
        {
            int size = capacity * _sizes[l + 1];
            _z[l] = new double[size];
            _rz[l] = new double[size];
            bool hidden = l < _layers - 1;
            _a[l] = hidden ? new double[size] : [];
            _d1[l] = hidden ? new double[size] : [];
            _d2[l] = hidden ? new double[size] : [];
            _ra[l] = hidden ? new double[size] : [];
        }

        int wide = capacity * _maxWidth;
        _delta = new double[wide];
        _deltaNext = new double[wide];
        _rdelta = new double[wide];
        _rdeltaNext = new double[wide];
        _gradA = new double[_maxWidth];
        _rgradA = new double[_maxWidth];
        _probabilities = new double[capacity * _sizes[^1]];
        _capacity = capacity;
    }

    private ReadOnlySpan<double> LayerInput(Batch batch, int layer, int rows) =>
        layer == 0 ? batch.Inputs : _a[layer - 1].AsSpan(0, rows * _sizes[layer]);

    private void Forward(ReadOnlySpan<double> parameters, Batch batch, bool derivatives)
    {
        int rows = batch.Count;
        EnsureCapacity(rows);
        for (int l = 0; l < _layers; l++)
        {
            int nin = _sizes[l];
            int nout = _sizes[l + 1];
            var weight = Architecture.Weight(l).Slice(parameters);
            var bias = Architecture.Bias(l).Slice(parameters);
            var input = LayerInput(batch, l, rows);
            var z = _z[l].AsSpan(0, rows * nout);
            for (int n = 0; n < rows; n++)
            {
                var x = input.Slice(n * nin, nin);
                for (int o = 0; o < nout; o++)
                {
                    z[(n * nout) + o] = bias[o] + TensorPrimitives.Dot(weight.Slice(o * nin, nin), x);
                }
            }

            if (l < _layers - 1)
            {
                var a = _a[l].AsSpan(0, rows * nout);
                if (derivatives)
                {
                    ActivationFunctions.Evaluate(Architecture.Activation, z, a, _d1[l].AsSpan(0, rows * nout), _d2[l].AsSpan(0, rows * nout));
                }
                else
                {
                    ActivationFunctions.Value(Architecture.Activation, z, a);
                }
            }
        }
    }

    /// <summary>Loss from the outputs; optionally δ = ∂L/∂y into <see cref="_delta"/> (and softmax probabilities).</summary>
    private double OutputLoss(Batch batch, bool gradientWanted)
    {
        int rows = batch.Count;
        int k = _sizes[^1];
        var y = _z[_layers - 1].AsSpan(0, rows * k);
        var delta = _delta.AsSpan(0, rows * k);
        double sum = 0;
        if (LossKind == LossKind.MeanSquaredError)
        {
            var targets = batch.Targets;
            double scale = 2.0 / (rows * (double)k);
            for (int i = 0; i < y.Length; i++)
            {
                double diff = y[i] - targets[i];
                sum += diff * diff;
                if (gradientWanted)
                {
                    delta[i] = scale * diff;
                }
            }

            return sum / (rows * (double)k);
        }

        var labels = batch.Labels;
        var probabilities = _probabilities.AsSpan(0, rows * k);
        for (int n = 0; n < rows; n++)
        {
            var row = y.Slice(n * k, k);
            double max = TensorPrimitives.Max(row);
            double exponentials = 0;
            for (int c = 0; c < k; c++)
            {
                exponentials += Math.Exp(row[c] - max);
            }

            double logSumExp = max + Math.Log(exponentials);
            sum += logSumExp - row[labels[n]];
            if (gradientWanted)
            {
                for (int c = 0; c < k; c++)
                {
                    double p = Math.Exp(row[c] - logSumExp);
                    probabilities[(n * k) + c] = p;
                    delta[(n * k) + c] = (p - (c == labels[n] ? 1 : 0)) / rows;
                }
            }
        }

        return sum / rows;
    }

    /// <summary>R{δ} at the output: the loss Hessian with respect to the outputs applied to R{y}.</summary>
    private void OutputR(Batch batch)
    {
        int rows = batch.Count;
        int k = _sizes[^1];
        var ry = _rz[_layers - 1].AsSpan(0, rows * k);
        var rdelta = _rdelta.AsSpan(0, rows * k);
        if (LossKind == LossKind.MeanSquaredError)
        {
            TensorPrimitives.Multiply(ry, 2.0 / (rows * (double)k), rdelta);
            return;
        }

        // Softmax cross-entropy: ∂²ℓ/∂y² = diag(p) − p·pᵀ per sample, divided by N.
        var probabilities = _probabilities.AsSpan(0, rows * k);
        for (int n = 0; n < rows; n++)
        {
            var p = probabilities.Slice(n * k, k);
            var r = ry.Slice(n * k, k);
            double pr = TensorPrimitives.Dot(p, r);
            for (int c = 0; c < k; c++)
            {
                rdelta[(n * k) + c] = p[c] * (r[c] - pr) / rows;
            }
        }
    }

    private void Backward(ReadOnlySpan<double> parameters, Batch batch, Span<double> gradient)
    {
        int rows = batch.Count;
        gradient.Clear();
        for (int l = _layers - 1; l >= 0; l--)
        {
            int nin = _sizes[l];
            int nout = _sizes[l + 1];
            var weight = Architecture.Weight(l).Slice(parameters);
            var gradWeight = Architecture.Weight(l).Slice(gradient);
            var gradBias = Architecture.Bias(l).Slice(gradient);
            var input = LayerInput(batch, l, rows);
            var delta = _delta.AsSpan(0, rows * nout);
            for (int n = 0; n < rows; n++)
            {
                var x = input.Slice(n * nin, nin);
                for (int o = 0; o < nout; o++)
                {
                    double d = delta[(n * nout) + o];
                    gradBias[o] += d;
                    var g = gradWeight.Slice(o * nin, nin);
                    TensorPrimitives.MultiplyAdd(x, d, g, g);
                }
            }

            if (l == 0)
            {
                break;
            }

            // δ_{l−1} = σ′(z_{l−1}) ⊙ (Wᵀ δ_l), row by row.
            var previous = _deltaNext.AsSpan(0, rows * nin);
            var d1 = _d1[l - 1].AsSpan(0, rows * nin);
            for (int n = 0; n < rows; n++)
            {
                var row = previous.Slice(n * nin, nin);
                row.Clear();
                for (int o = 0; o < nout; o++)
                {
                    TensorPrimitives.MultiplyAdd(weight.Slice(o * nin, nin), delta[(n * nout) + o], row, row);
                }

                TensorPrimitives.Multiply(row, d1.Slice(n * nin, nin), row);
            }

            (_delta, _deltaNext) = (_deltaNext, _delta);
        }
    }

    /// <summary>Forward R-pass: R{z_l} = V_l a_{l−1} + W_l R{a_{l−1}} + v_b, R{a_l} = σ′(z_l) ⊙ R{z_l}.</summary>
    private void ForwardR(ReadOnlySpan<double> parameters, Batch batch, ReadOnlySpan<double> vector)
    {
        int rows = batch.Count;
        for (int l = 0; l < _layers; l++)
        {
            int nin = _sizes[l];
            int nout = _sizes[l + 1];
            var weight = Architecture.Weight(l).Slice(parameters);
            var vWeight = Architecture.Weight(l).Slice(vector);
            var vBias = Architecture.Bias(l).Slice(vector);
            var input = LayerInput(batch, l, rows);
            var rz = _rz[l].AsSpan(0, rows * nout);
            for (int n = 0; n < rows; n++)
            {
                var x = input.Slice(n * nin, nin);
                for (int o = 0; o < nout; o++)
                {
                    double value = vBias[o] + TensorPrimitives.Dot(vWeight.Slice(o * nin, nin), x);
                    if (l > 0)
                    {
                        value += TensorPrimitives.Dot(weight.Slice(o * nin, nin), _ra[l - 1].AsSpan(n * nin, nin));
                    }

                    rz[(n * nout) + o] = value;
                }
            }

            if (l < _layers - 1)
            {
                TensorPrimitives.Multiply(rz, _d1[l].AsSpan(0, rows * nout), _ra[l].AsSpan(0, rows * nout));
            }
        }
    }

    /// <summary>Backward pass for the gradient together with the backward R-pass for H·v.</summary>
    private void BackwardR(ReadOnlySpan<double> parameters, Batch batch, ReadOnlySpan<double> vector, Span<double> gradient, Span<double> result)
    {
        int rows = batch.Count;
        gradient.Clear();
        result.Clear();
        for (int l = _layers - 1; l >= 0; l--)
        {
            AccumulateLayerR(batch, l, rows, gradient, result);
            if (l == 0)
            {
                break;
            }

            PropagateR(parameters, vector, l, rows);
            (_delta, _deltaNext) = (_deltaNext, _delta);
            (_rdelta, _rdeltaNext) = (_rdeltaNext, _rdelta);
        }
    }

    /// <summary>
    /// Layer <paramref name="l"/>'s gradient and H·v blocks: ∂L/∂W = Σₙ δₙ xₙᵀ and R{∂L/∂W} = Σₙ R{δₙ} xₙᵀ + δₙ R{xₙ}ᵀ
    /// (inputs of layer 0 are data: R{x} = 0).
    /// </summary>
    private void AccumulateLayerR(Batch batch, int l, int rows, Span<double> gradient, Span<double> result)
    {
        int nin = _sizes[l];
        int nout = _sizes[l + 1];
        var gradWeight = Architecture.Weight(l).Slice(gradient);
        var gradBias = Architecture.Bias(l).Slice(gradient);
        var hvWeight = Architecture.Weight(l).Slice(result);
        var hvBias = Architecture.Bias(l).Slice(result);
        var input = LayerInput(batch, l, rows);
        var delta = _delta.AsSpan(0, rows * nout);
        var rdelta = _rdelta.AsSpan(0, rows * nout);
        for (int n = 0; n < rows; n++)
        {
            var x = input.Slice(n * nin, nin);
            var rx = l > 0 ? _ra[l - 1].AsSpan(n * nin, nin) : [];
            for (int o = 0; o < nout; o++)
            {
                double d = delta[(n * nout) + o];
                double rd = rdelta[(n * nout) + o];
                gradBias[o] += d;
                hvBias[o] += rd;
                var g = gradWeight.Slice(o * nin, nin);
                var h = hvWeight.Slice(o * nin, nin);
                TensorPrimitives.MultiplyAdd(x, d, g, g);
                TensorPrimitives.MultiplyAdd(x, rd, h, h);
                if (l > 0)
                {
                    TensorPrimitives.MultiplyAdd(rx, d, h, h);
                }
            }
        }
    }

    /// <summary>
    /// δ and R{δ} one layer down: g = Wᵀδ, R{g} = Vᵀδ + WᵀR{δ}; δ_{l−1} = σ′ ⊙ g, R{δ_{l−1}} = σ″ ⊙ R{z_{l−1}} ⊙ g + σ′ ⊙ R{g}.
    /// </summary>
    private void PropagateR(ReadOnlySpan<double> parameters, ReadOnlySpan<double> vector, int l, int rows)
    {
        int nin = _sizes[l];
        int nout = _sizes[l + 1];
        var weight = Architecture.Weight(l).Slice(parameters);
        var vWeight = Architecture.Weight(l).Slice(vector);
        var delta = _delta.AsSpan(0, rows * nout);
        var rdelta = _rdelta.AsSpan(0, rows * nout);
        var previous = _deltaNext.AsSpan(0, rows * nin);
        var rprevious = _rdeltaNext.AsSpan(0, rows * nin);
        var d1 = _d1[l - 1].AsSpan(0, rows * nin);
        var d2 = _d2[l - 1].AsSpan(0, rows * nin);
        var rzPrevious = _rz[l - 1].AsSpan(0, rows * nin);
        var g0 = _gradA.AsSpan(0, nin);
        var rg0 = _rgradA.AsSpan(0, nin);
        for (int n = 0; n < rows; n++)
        {
            g0.Clear();
            rg0.Clear();
            for (int o = 0; o < nout; o++)
            {
                double d = delta[(n * nout) + o];
                double rd = rdelta[(n * nout) + o];
                var w = weight.Slice(o * nin, nin);
                TensorPrimitives.MultiplyAdd(w, d, g0, g0);
                TensorPrimitives.MultiplyAdd(w, rd, rg0, rg0);
                TensorPrimitives.MultiplyAdd(vWeight.Slice(o * nin, nin), d, rg0, rg0);
            }

            int start = n * nin;
            for (int i = 0; i < nin; i++)
            {
                previous[start + i] = d1[start + i] * g0[i];
                rprevious[start + i] = (d2[start + i] * rzPrevious[start + i] * g0[i]) + (d1[start + i] * rg0[i]);
            }
        }
    }
}
