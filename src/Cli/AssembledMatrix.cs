using SpectralMonitor.Estimators.Operators;

namespace SpectralMonitor.Cli;

/// <summary>
/// A square matrix as <c>A = 2^Exponent · S</c>: <c>S</c> holds the entries with duplicates summed, zeros dropped and the
/// symmetric or skew-symmetric half mirrored, scaled by an even power of two so that its largest |entry| is in [1, 4).
/// </summary>
/// <remarks>
/// Every measure is computed on <c>S</c> and scaled back exactly (ρ, numerical abscissa and radius are homogeneous of
/// degree 1, κ(V) of degree 0, ‖Sᵏ‖ of degree k). This keeps the dense and Krylov routines far from overflow and
/// underflow whatever the magnitude of the entries (1e308, 1e-320): MathNet's SVD and eigensolvers square entries and
/// fail or lose all accuracy beyond about 1e±154. Multiplying by a power of two is exact except where an entry
/// falls below the smallest subnormal after scaling, i.e. below 2⁻¹⁰⁷⁴ relative to the largest entry — far below the
/// ε·‖A‖ backward error of the decompositions themselves. Duplicates are summed after a first scaling, so that two
/// entries of 1e308 make 2e308 (beyond the double range as <c>A</c>, but 2 as <c>S</c>). The power is even so that
/// square roots inside the decompositions scale exactly too.
/// </remarks>
internal sealed class AssembledMatrix
{
    private AssembledMatrix(int dimension, int exponent, int[] rows, int[] columns, double[] values, bool symmetric)
    {
        Dimension = dimension;
        Exponent = exponent;
        Rows = rows;
        Columns = columns;
        Values = values;
        IsSymmetric = symmetric;
    }

    /// <summary>Matrix size <c>n</c>.</summary>
    public int Dimension { get; }

    /// <summary>The even power of two with <c>A = 2^Exponent · S</c> (0 for the zero matrix).</summary>
    public int Exponent { get; }

    /// <summary>Rows of the nonzero entries of <c>S</c>.</summary>
    public int[] Rows { get; }

    /// <summary>Columns of the nonzero entries of <c>S</c>.</summary>
    public int[] Columns { get; }

    /// <summary>The nonzero entries of <c>S</c> (largest modulus in [1, 4)).</summary>
    public double[] Values { get; }

    /// <summary>Whether the file declared the matrix symmetric.</summary>
    public bool IsSymmetric { get; }

    /// <summary>Whether <c>A = 0</c> exactly (no entry, all zero, or duplicates that cancel).</summary>
    public bool IsZero => Values.Length == 0;

    /// <summary>Sums duplicates, drops zeros, scales and mirrors the stored half.</summary>
    public static AssembledMatrix From(MatrixMarketMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.Dimension;
        bool symmetric = matrix.Symmetry == MatrixSymmetry.Symmetric;
        int first = LargestExponent(matrix.Values);
        if (first == int.MinValue)
        {
            return new AssembledMatrix(n, 0, [], [], [], symmetric);
        }

        // Scale by the largest entry first, so that the sums of duplicates cannot overflow.
        int count = matrix.Values.Length;
        var keys = new long[count];
        var values = new double[count];
        for (int k = 0; k < count; k++)
        {
            keys[k] = ((long)matrix.Rows[k] * n) + matrix.Columns[k];
            values[k] = Math.ScaleB(matrix.Values[k], -first);
        }

        Array.Sort(keys, values);
        int kept = 0;
        for (int k = 0; k < count; k++)
        {
            long key = keys[k];
            double sum = values[k];
            while (k + 1 < count && keys[k + 1] == key)
            {
                sum += values[++k];
            }

            if (sum != 0)
            {
                keys[kept] = key;
                values[kept] = sum;
                kept++;
            }
        }

        int second = LargestExponent(values.AsSpan(0, kept));
        if (second == int.MinValue)
        {
            return new AssembledMatrix(n, 0, [], [], [], symmetric);
        }

        int exponent = first + second;
        exponent -= exponent & 1;
        int shift = exponent - first;
        bool mirror = matrix.Symmetry != MatrixSymmetry.General;
        double mirrorSign = matrix.Symmetry == MatrixSymmetry.SkewSymmetric ? -1 : 1;
        int total = kept;
        if (mirror)
        {
            for (int k = 0; k < kept; k++)
            {
                if (keys[k] / n != keys[k] % n)
                {
                    total++;
                }
            }
        }

        var rows = new int[total];
        var columns = new int[total];
        var scaled = new double[total];
        int next = 0;
        for (int k = 0; k < kept; k++)
        {
            int i = (int)(keys[k] / n);
            int j = (int)(keys[k] % n);
            double value = Math.ScaleB(values[k], -shift);
            (rows[next], columns[next], scaled[next]) = (i, j, value);
            next++;
            if (mirror && i != j)
            {
                // The reader admits only the lower half of such files, so a mirrored entry never meets a stored one.
                (rows[next], columns[next], scaled[next]) = (j, i, mirrorSign * value);
                next++;
            }
        }

        return new AssembledMatrix(n, exponent, rows, columns, scaled, symmetric);
    }

    /// <summary><c>S</c> as a dense array.</summary>
    public double[,] ScaledDense()
    {
        var s = new double[Dimension, Dimension];
        for (int k = 0; k < Values.Length; k++)
        {
            s[Rows[k], Columns[k]] = Values[k];
        }

        return s;
    }

    /// <summary><c>S</c> as a sparse operator.</summary>
    public CsrMatrixOperator<double> ScaledOperator() =>
        CsrMatrixOperator.FromCoordinates<double>(Dimension, Rows, Columns, Values, IsSymmetric);

    /// <summary>The largest <c>⌊log₂|v|⌋</c> over the nonzero values; <see cref="int.MinValue"/> when all are zero.</summary>
    internal static int LargestExponent(ReadOnlySpan<double> values)
    {
        int largest = int.MinValue;
        foreach (double v in values)
        {
            if (v != 0)
            {
                largest = Math.Max(largest, Math.ILogB(v));
            }
        }

        return largest;
    }
}
