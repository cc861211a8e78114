namespace SpectralMonitor.Reference;

/// <summary>
/// An immutable set of samples: inputs (row-major <see cref="Count"/> × <see cref="InputDimension"/>) with either
/// regression targets (row-major <see cref="Count"/> × <see cref="OutputDimension"/>) or integer class labels in
/// [0, <see cref="OutputDimension"/>). A whole data set is a batch too; <see cref="Select"/> draws mini-batches.
/// </summary>
public sealed class Batch
{
    private readonly double[] _inputs;
    private readonly double[] _targets;
    private readonly int[] _labels;

    private Batch(double[] inputs, double[] targets, int[] labels, int count, int inputDimension, int outputDimension, bool isClassification)
    {
        _inputs = inputs;
        _targets = targets;
        _labels = labels;
        Count = count;
        InputDimension = inputDimension;
        OutputDimension = outputDimension;
        IsClassification = isClassification;
    }

    /// <summary>Number of samples.</summary>
    public int Count { get; }

    /// <summary>Width of one input row.</summary>
    public int InputDimension { get; }

    /// <summary>Width of one target row (regression) or number of classes (classification).</summary>
    public int OutputDimension { get; }

    /// <summary>True when the batch holds class labels, false when it holds regression targets.</summary>
    public bool IsClassification { get; }

    /// <summary>Inputs, row-major <see cref="Count"/> × <see cref="InputDimension"/>.</summary>
    public ReadOnlySpan<double> Inputs => _inputs;

    /// <summary>Regression targets, row-major <see cref="Count"/> × <see cref="OutputDimension"/> (empty for classification).</summary>
    public ReadOnlySpan<double> Targets => _targets;

    /// <summary>Class labels, one per sample (empty for regression).</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>Creates a regression batch (the arrays are copied).</summary>
    /// <param name="inputs">Row-major inputs; length a multiple of <paramref name="inputDimension"/>.</param>
    /// <param name="targets">Row-major targets; as many rows as <paramref name="inputs"/>.</param>
    /// <param name="inputDimension">Input width.</param>
    /// <param name="outputDimension">Target width.</param>
    /// <exception cref="ArgumentException">Sizes are not positive or do not agree, or a value is not finite.</exception>
    public static Batch ForRegression(ReadOnlySpan<double> inputs, ReadOnlySpan<double> targets, int inputDimension, int outputDimension)
    {
        int count = CheckInputs(inputs, inputDimension, outputDimension, nameof(outputDimension));
        if (targets.Length != count * outputDimension)
        {
            throw new ArgumentException($"targets has length {targets.Length}; {count} samples × {outputDimension} outputs need {count * outputDimension}.", nameof(targets));
        }

        CheckFinite(targets, nameof(targets));
        return new Batch(inputs.ToArray(), targets.ToArray(), [], count, inputDimension, outputDimension, isClassification: false);
    }

    /// <summary>Creates a classification batch (the arrays are copied).</summary>
    /// <param name="inputs">Row-major inputs; length a multiple of <paramref name="inputDimension"/>.</param>
    /// <param name="labels">One class per sample, each in [0, <paramref name="classCount"/>).</param>
    /// <param name="inputDimension">Input width.</param>
    /// <param name="classCount">Number of classes (the model's output width).</param>
    /// <exception cref="ArgumentException">Sizes are not positive or do not agree, a label is out of range, or an input is not finite.</exception>
    public static Batch ForClassification(ReadOnlySpan<double> inputs, ReadOnlySpan<int> labels, int inputDimension, int classCount)
    {
        int count = CheckInputs(inputs, inputDimension, classCount, nameof(classCount));
        if (labels.Length != count)
        {
            throw new ArgumentException($"labels has length {labels.Length}; inputs hold {count} samples.", nameof(labels));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
            {
                throw new ArgumentException($"labels[{i}] = {labels[i]} is not a class in [0, {classCount}).", nameof(labels));
            }
        }

        return new Batch(inputs.ToArray(), [], labels.ToArray(), count, inputDimension, classCount, isClassification: true);
    }

    /// <summary>A new batch made of the samples at <paramref name="indices"/> (repeats allowed), in that order.</summary>
    /// <exception cref="ArgumentException"><paramref name="indices"/> is empty or holds an index outside [0, <see cref="Count"/>).</exception>
    public Batch Select(ReadOnlySpan<int> indices)
    {
        if (indices.IsEmpty)
        {
            throw new ArgumentException("indices must not be empty.", nameof(indices));
        }

        var inputs = new double[indices.Length * InputDimension];
        var targets = IsClassification ? [] : new double[indices.Length * OutputDimension];
        var labels = IsClassification ? new int[indices.Length] : [];
        for (int i = 0; i < indices.Length; i++)
        {
            int j = indices[i];
            if ((uint)j >= (uint)Count)
            {
                throw new ArgumentException($"indices[{i}] = {j} is not a sample index in [0, {Count}).", nameof(indices));
            }

            _inputs.AsSpan(j * InputDimension, InputDimension).CopyTo(inputs.AsSpan(i * InputDimension));
            if (IsClassification)
            {
                labels[i] = _labels[j];
            }
            else
            {
                _targets.AsSpan(j * OutputDimension, OutputDimension).CopyTo(targets.AsSpan(i * OutputDimension));
            }
        }

        return new Batch(inputs, targets, labels, indices.Length, InputDimension, OutputDimension, IsClassification);
    }

    /// <summary>A new batch of the <paramref name="count"/> samples starting at <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentException">The range is empty or not inside the batch.</exception>
    public Batch Slice(int start, int count)
    {
        if (start < 0 || count <= 0 || start > Count - count)
        {
            throw new ArgumentException($"Range start = {start}, count = {count} is not a non-empty range inside a batch of {Count} samples.", nameof(count));
        }

        var indices = new int[count];
        for (int i = 0; i < count; i++)
        {
            indices[i] = start + i;
        }

        return Select(indices);
    }

    private static int CheckInputs(ReadOnlySpan<double> inputs, int inputDimension, int outputDimension, string outputName)
    {
        if (inputDimension <= 0)
        {
            throw new ArgumentException($"inputDimension = {inputDimension} must be positive.", nameof(inputDimension));
        }

        if (outputDimension <= 0)
        {
            throw new ArgumentException($"{outputName} = {outputDimension} must be positive.", outputName);
        }

        if (inputs.IsEmpty || inputs.Length % inputDimension != 0)
        {
            throw new ArgumentException($"inputs has length {inputs.Length}; it must be a positive multiple of inputDimension = {inputDimension}.", nameof(inputs));
        }

        CheckFinite(inputs, nameof(inputs));
        return inputs.Length / inputDimension;
    }

    private static void CheckFinite(ReadOnlySpan<double> values, string name)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]))
            {
                throw new ArgumentException($"{name}[{i}] = {values[i]} is not finite.", name);
            }
        }
    }
}
