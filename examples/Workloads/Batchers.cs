using TorchSharp;
using static TorchSharp.torch;

namespace SpectralMonitor.Examples.Workloads;

/// <summary>A mini-batch: model inputs and targets, created in the caller's dispose scope.</summary>
/// <param name="Inputs">Model inputs.</param>
/// <param name="Targets">Targets of the loss (class indices).</param>
public readonly record struct Batch(Tensor Inputs, Tensor Targets);

/// <summary>Produces the training mini-batches of a run, deterministically from a seed, and its fixed probe batch.</summary>
public interface IBatchSource
{
    /// <summary>Rows per training batch.</summary>
    int BatchSize { get; }

    /// <summary>The next training batch (new tensors in the current dispose scope).</summary>
    Batch NextBatch();

    /// <summary>The fixed probe batch (new tensors in the current dispose scope; equal values at every call).</summary>
    Batch ProbeBatch();
}

/// <summary>
/// Mini-batches of the 8×8 digits: each epoch visits every image once, in an order shuffled by a
/// <see cref="Random"/> seeded with the batcher's seed (Fisher–Yates), so two batchers with the same seed give the
/// same batches. A batch that would cross the end of an epoch is taken whole from the next one.
/// </summary>
public sealed class DigitsBatcher : IBatchSource
{
    private readonly DigitsDataSet _data;
    private readonly bool _images;
    private readonly Random _random;
    private readonly int[] _order;
    private readonly int[] _probeRows;
    private int _position;

    /// <summary>Creates a batcher.</summary>
    /// <param name="data">The digits.</param>
    /// <param name="batchSize">Images per batch, in [1, number of images].</param>
    /// <param name="seed">Seed of the epoch order.</param>
    /// <param name="images">True for inputs of shape [B, 1, 8, 8] (a CNN), false for [B, 64] (an MLP).</param>
    /// <param name="probeSize">Images in the probe batch: a fixed sample of the training images (its own seeded draw).</param>
    public DigitsBatcher(DigitsDataSet data, int batchSize, int seed, bool images, int probeSize = 256)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, data.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(probeSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(probeSize, data.Count);
        _data = data;
        _images = images;
        BatchSize = batchSize;
        _random = new Random(seed);
        _order = [.. Enumerable.Range(0, data.Count)];
        _position = data.Count;
        var probeOrder = Enumerable.Range(0, data.Count).ToArray();
        Shuffle(probeOrder, new Random(unchecked(seed ^ 0x5EED)));
        _probeRows = probeOrder[..probeSize];
    }

    /// <inheritdoc/>
    public int BatchSize { get; }

    /// <inheritdoc/>
    public Batch NextBatch()
    {
        if (_position + BatchSize > _order.Length)
        {
            Shuffle(_order, _random);
            _position = 0;
        }

        var rows = _order.AsSpan(_position, BatchSize);
        _position += BatchSize;
        return Make(rows);
    }

    /// <inheritdoc/>
    public Batch ProbeBatch() => Make(_probeRows);

    private Batch Make(ReadOnlySpan<int> rows)
    {
        var pixels = new float[rows.Length * DigitsDataSet.Features];
        var labels = new long[rows.Length];
        var source = _data.Pixels;
        for (int i = 0; i < rows.Length; i++)
        {
            source.Slice(rows[i] * DigitsDataSet.Features, DigitsDataSet.Features).CopyTo(pixels.AsSpan(i * DigitsDataSet.Features));
            labels[i] = _data.Labels[rows[i]];
        }

        long[] shape = _images ? [rows.Length, 1, 8, 8] : [rows.Length, DigitsDataSet.Features];
        return new Batch(torch.tensor(pixels, shape), torch.tensor(labels, [rows.Length]));
    }

    internal static void Shuffle(int[] values, Random random)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}

/// <summary>
/// Mini-batches of a character corpus for next-character prediction: each row is a window of
/// <see cref="Context"/> tokens starting at a position drawn uniformly by a seeded <see cref="Random"/>, and its
/// target is the same window shifted by one character. Windows start in the training part of the text (all but the
/// last <c>heldOutFraction</c>); the probe batch is a fixed set of windows from the same part, drawn by its own seed.
/// </summary>
public sealed class CharBatcher : IBatchSource
{
    private readonly CharCorpus _corpus;
    private readonly Random _random;
    private readonly int _trainLength;
    private readonly int[] _probeStarts;

    /// <summary>Creates a batcher.</summary>
    /// <param name="corpus">The text.</param>
    /// <param name="context">Tokens per window, at least 2.</param>
    /// <param name="batchSize">Windows per batch, at least 1.</param>
    /// <param name="seed">Seed of the window positions.</param>
    /// <param name="probeSize">Windows in the probe batch.</param>
    /// <param name="heldOutFraction">Fraction of the text, at its end, that training windows never touch, in [0, 0.5].</param>
    public CharBatcher(CharCorpus corpus, int context, int batchSize, int seed, int probeSize = 32, double heldOutFraction = 0.1)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(probeSize, 1);
        if (!(heldOutFraction is >= 0 and <= 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "Must be in [0, 0.5].");
        }

        _corpus = corpus;
        Context = context;
        BatchSize = batchSize;
        _random = new Random(seed);
        _trainLength = (int)(corpus.Tokens.Length * (1 - heldOutFraction));
        if (_trainLength < context + 2)
        {
            throw new ArgumentException($"The corpus is too short for windows of {context} tokens.", nameof(corpus));
        }

        var probeRandom = new Random(unchecked(seed ^ 0x5EED));
        _probeStarts = [.. Enumerable.Range(0, probeSize).Select(_ => probeRandom.Next(_trainLength - context - 1))];
    }

    /// <summary>Tokens per window.</summary>
    public int Context { get; }

    /// <inheritdoc/>
    public int BatchSize { get; }

    /// <inheritdoc/>
    public Batch NextBatch()
    {
        var starts = new int[BatchSize];
        for (int i = 0; i < starts.Length; i++)
        {
            starts[i] = _random.Next(_trainLength - Context - 1);
        }

        return Make(starts);
    }

    /// <inheritdoc/>
    public Batch ProbeBatch() => Make(_probeStarts);

    private Batch Make(int[] starts)
    {
        var inputs = new long[starts.Length * Context];
        var targets = new long[starts.Length * Context];
        var tokens = _corpus.Tokens;
        for (int i = 0; i < starts.Length; i++)
        {
            tokens.Slice(starts[i], Context).CopyTo(inputs.AsSpan(i * Context));
            tokens.Slice(starts[i] + 1, Context).CopyTo(targets.AsSpan(i * Context));
        }

        return new Batch(torch.tensor(inputs, [starts.Length, Context]), torch.tensor(targets, [starts.Length, Context]));
    }
}
