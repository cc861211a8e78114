using System.Globalization;
using System.Text;

namespace SpectralMonitor.Cli;

/// <summary>Makes text from a file or the command line safe to print inside a one-line message.</summary>
internal static class ConsoleText
{
    /// <summary>
    /// Replaces control and line-separator characters (and the BOM) by <c>\xNN</c> or <c>\uNNNN</c>, so that a file name or
    /// an excerpt can neither break the line nor send terminal escape sequences; truncates to <paramref name="maxLength"/>
    /// characters with "...".
    /// </summary>
    public static string Printable(ReadOnlySpan<char> text, int maxLength = int.MaxValue)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength) + 8);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (builder.Length >= maxLength)
            {
                builder.Append("...");
                break;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else if (c < 0x20 || c == 0x7F)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            }
            else if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\uFEFF' or '\uFFFD' || char.IsSurrogate(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
