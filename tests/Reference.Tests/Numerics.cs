namespace SpectralMonitor.Reference.Tests;

internal static class Numerics
{
    /// <summary>‖a − b‖∞ / max(‖expected‖∞, floor): the error relative to the size of the expected vector.</summary>
    public static double RelativeError(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double floor = 1e-300)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = floor;
        double error = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            error = Math.Max(error, Math.Abs(expected[i] - actual[i]));
        }

        return error / scale;
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance, string what, double floor = 1e-300)
    {
        double error = RelativeError(expected, actual, floor);
        Assert.True(error <= tolerance, $"{what}: relative error {error:E3} > {tolerance:E1}");
    }

    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    public static double[] RandomVector(int length, int seed)
    {
        var random = new Random(seed);
        var v = new double[length];
        for (int i = 0; i < length; i++)
        {
            v[i] = (2 * random.NextDouble()) - 1;
        }

        return v;
    }
}
