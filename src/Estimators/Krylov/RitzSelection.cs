using System.Numerics;

namespace SpectralMonitor.Estimators.Krylov;

/// <summary>Orders Ritz values by preference for a given <see cref="EigenvalueSelection"/>.</summary>
internal static class RitzSelection
{
    /// <summary>Indices of <paramref name="values"/>, most wanted first.</summary>
    internal static int[] RankReal(IReadOnlyList<double> values, EigenvalueSelection which)
    {
        var order = new int[values.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        switch (which)
        {
            case EigenvalueSelection.SmallestAlgebraic:
                Array.Sort(order, (a, b) => values[a].CompareTo(values[b]));
                return order;
            case EigenvalueSelection.LargestMagnitude:
                Array.Sort(order, (a, b) => Math.Abs(values[b]).CompareTo(Math.Abs(values[a])));
                return order;
            case EigenvalueSelection.SmallestMagnitude:
                Array.Sort(order, (a, b) => Math.Abs(values[a]).CompareTo(Math.Abs(values[b])));
                return order;
            case EigenvalueSelection.BothEnds:
                Array.Sort(order, (a, b) => values[b].CompareTo(values[a]));
                var alternating = new int[order.Length];
                int top = 0;
                int bottom = order.Length - 1;
                for (int i = 0; i < order.Length; i++)
                {
                    alternating[i] = i % 2 == 0 ? order[top++] : order[bottom--];
                }

                return alternating;
            default:
                Array.Sort(order, (a, b) => values[b].CompareTo(values[a]));
                return order;
        }
    }

    /// <summary>
    /// Indices of complex Ritz values, most wanted first (<see cref="EigenvalueSelection.LargestMagnitude"/> or
    /// <see cref="EigenvalueSelection.LargestRealPart"/>). Complex-conjugate pairs stay adjacent, the member with
    /// positive imaginary part first: values are grouped into pairs before sorting, because the two members of a
    /// computed pair agree in modulus and real part only to rounding.
    /// </summary>
    internal static int[] RankComplex(IReadOnlyList<Complex> values, EigenvalueSelection which)
    {
        var partner = PairConjugates(values);
        var groups = new List<int>();
        var paired = new bool[values.Count];
        foreach (int p in partner)
        {
            if (p >= 0)
            {
                paired[p] = true;
            }
        }

        for (int i = 0; i < values.Count; i++)
        {
            if (!paired[i])
            {
                groups.Add(i);
            }
        }

        double Key(int i) => which == EigenvalueSelection.LargestRealPart ? values[i].Real : Complex.Abs(values[i]);
        groups.Sort((a, b) =>
        {
            int byKey = Key(b).CompareTo(Key(a));
            if (byKey != 0)
            {
                return byKey;
            }

            int byImaginary = values[b].Imaginary.CompareTo(values[a].Imaginary);
            return byImaginary != 0 ? byImaginary : a.CompareTo(b);
        });

        var order = new int[values.Count];
        int position = 0;
        foreach (int g in groups)
        {
            order[position++] = g;
            if (partner[g] >= 0)
            {
                order[position++] = partner[g];
            }
        }

        return order;
    }

    /// <summary>
    /// For each value with positive imaginary part (beyond rounding), the index of its nearest unpaired conjugate with
    /// negative imaginary part, else −1.
    /// </summary>
    private static int[] PairConjugates(IReadOnlyList<Complex> values)
    {
        double scale = 0;
        foreach (var v in values)
        {
            scale = Math.Max(scale, Complex.Abs(v));
        }

        double realTolerance = 1e-13 * scale;
        var partner = new int[values.Count];
        Array.Fill(partner, -1);
        var used = new bool[values.Count];
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i].Imaginary <= realTolerance)
            {
                continue;
            }

            int best = -1;
            double bestDistance = double.PositiveInfinity;
            for (int j = 0; j < values.Count; j++)
            {
                double distance = Complex.Abs(values[j] - Complex.Conjugate(values[i]));
                if (!used[j] && values[j].Imaginary < -realTolerance && distance < bestDistance)
                {
                    bestDistance = distance;
                    best = j;
                }
            }

            if (best >= 0)
            {
                used[best] = true;
                partner[i] = best;
            }
        }

        return partner;
    }
}
