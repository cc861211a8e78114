using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace SpectralMonitor.Examples.Workloads;

/// <summary>
/// The 8×8 handwritten digits that ship in <c>data/digits</c> (the UCI optdigits test set as scikit-learn ships it,
/// CC BY 4.0; see data/digits/README.md): 1,797 images of 64 pixels scaled from 0–16 to [0, 1], and their labels.
/// </summary>
public sealed class DigitsDataSet
{
    /// <summary>Pixels per image (8×8).</summary>
    public const int Features = 64;

    /// <summary>Number of classes (the digits 0–9).</summary>
    public const int Classes = 10;

    private readonly float[] _pixels;
    private readonly long[] _labels;

    private DigitsDataSet(float[] pixels, long[] labels)
    {
        _pixels = pixels;
        _labels = labels;
    }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>Pixels of every image, row-major (image i at [64 i, 64 i + 64)), each in [0, 1].</summary>
    public ReadOnlySpan<float> Pixels => _pixels;

    /// <summary>Labels 0–9, one per image.</summary>
    public ReadOnlySpan<long> Labels => _labels;

    /// <summary>Reads the data set embedded in this assembly.</summary>
    public static DigitsDataSet Load()
    {
        using var reader = new StreamReader(new GZipStream(EmbeddedData.Open("data/digits.csv.gz"), CompressionMode.Decompress), Encoding.ASCII);
        var pixels = new List<float>(1797 * Features);
        var labels = new List<long>(1797);
        string? line;
        int row = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            row++;
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split(',');
            if (fields.Length != Features + 1)
            {
                throw new InvalidDataException($"digits.csv.gz row {row}: {fields.Length} fields, expected {Features + 1}.");
            }

            for (int i = 0; i < Features; i++)
            {
                int value = int.Parse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture);
                if (value > 16)
                {
                    throw new InvalidDataException($"digits.csv.gz row {row}: pixel {value} outside 0–16.");
                }

                pixels.Add(value / 16f);
            }

            int label = int.Parse(fields[Features], NumberStyles.None, CultureInfo.InvariantCulture);
            if (label >= Classes)
            {
                throw new InvalidDataException($"digits.csv.gz row {row}: label {label} outside 0–9.");
            }

            labels.Add(label);
        }

        return new DigitsDataSet([.. pixels], [.. labels]);
    }
}

/// <summary>
/// English text for a character-level language model: <i>Pride and Prejudice</i> (public domain; see
/// data/text/README.md), 684,768 ASCII characters, with its character vocabulary (sorted by code point).
/// </summary>
public sealed class CharCorpus
{
    private readonly long[] _tokens;
    private readonly Dictionary<char, int> _index;

    private CharCorpus(string text)
    {
        Text = text;
        Vocabulary = [.. text.Distinct().Order()];
        _index = Vocabulary.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        _tokens = [.. text.Select(c => (long)_index[c])];
    }

    /// <summary>The whole text.</summary>
    public string Text { get; }

    /// <summary>Distinct characters of the text, sorted; a character's token is its index here.</summary>
    public IReadOnlyList<char> Vocabulary { get; }

    /// <summary>Number of distinct characters.</summary>
    public int VocabularySize => Vocabulary.Count;

    /// <summary>The text as tokens (one per character).</summary>
    public ReadOnlySpan<long> Tokens => _tokens;

    /// <summary>Reads the text embedded in this assembly.</summary>
    public static CharCorpus Load()
    {
        using var reader = new StreamReader(new GZipStream(EmbeddedData.Open("data/pride-and-prejudice.txt.gz"), CompressionMode.Decompress), Encoding.UTF8);
        return new CharCorpus(reader.ReadToEnd());
    }

    /// <summary>The token of <paramref name="c"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="c"/> does not occur in the text.</exception>
    public int Encode(char c) => _index.TryGetValue(c, out int token) ? token : throw new ArgumentException($"'{c}' does not occur in the corpus.", nameof(c));

    /// <summary>The characters of <paramref name="tokens"/>.</summary>
    public string Decode(IEnumerable<long> tokens) => string.Concat(tokens.Select(t => Vocabulary[checked((int)t)]));
}

/// <summary>Resources embedded from the repository's data/ folder.</summary>
internal static class EmbeddedData
{
    public static Stream Open(string name) =>
        typeof(EmbeddedData).Assembly.GetManifestResourceStream(name)
        ?? throw new InvalidOperationException($"The resource {name} is not embedded in {typeof(EmbeddedData).Assembly.GetName().Name}.");
}
