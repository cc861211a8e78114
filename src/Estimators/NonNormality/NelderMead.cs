namespace SpectralMonitor.Estimators.NonNormality;

/// <summary>Derivative-free local maximization in two variables (Nelder–Mead simplex), for the global searches' refinement stage.</summary>
internal static class NelderMead
{
    private const int MaxEvaluations = 400;

    /// <summary>Climbs from <c>(x0, y0)</c> with an initial simplex of sides <paramref name="dx"/>, <paramref name="dy"/>.</summary>
    /// <returns>
    /// The best value found, its location, and whether the simplex met the tolerance (or collapsed, or reached +∞)
    /// before the evaluation cap.
    /// </returns>
    internal static (double Value, double X, double Y, bool Converged) Maximize(Func<double, double, double> f, double x0, double y0, double dx, double dy, double tolerance)
    {
        var px = new[] { x0, x0 + dx, x0 };
        var py = new[] { y0, y0, y0 + dy };
        var pf = new[] { f(px[0], py[0]), f(px[1], py[1]), f(px[2], py[2]) };
        int evaluations = 3;
        bool converged = false;
        while (evaluations < MaxEvaluations)
        {
            // Order: best (largest) first.
            Sort(px, py, pf);
            if (Done(px, py, pf, tolerance))
            {
                converged = true;
                break;
            }

            evaluations += Step(f, px, py, pf);
        }

        Sort(px, py, pf);
        return (pf[0], px[0], py[0], converged);
    }

    private static bool Done(double[] px, double[] py, double[] pf, double tolerance)
    {
        if (double.IsPositiveInfinity(pf[0]))
        {
            return true;
        }

        double spread = pf[0] - pf[2];
        double size = Math.Max(Math.Abs(px[1] - px[0]) + Math.Abs(px[2] - px[0]), Math.Abs(py[1] - py[0]) + Math.Abs(py[2] - py[0]));
        return (spread <= tolerance * Math.Abs(pf[0]) && size <= 1e-9 * (1 + Math.Abs(px[0]) + Math.Abs(py[0]))) || size <= 1e-13;
    }

    /// <summary>One reflection, expansion, contraction or shrink of a sorted simplex; returns the evaluations spent.</summary>
    private static int Step(Func<double, double, double> f, double[] px, double[] py, double[] pf)
    {
        double cx = (px[0] + px[1]) / 2;
        double cy = (py[0] + py[1]) / 2;
        double rx = cx + (cx - px[2]);
        double ry = cy + (cy - py[2]);
        double rf = f(rx, ry);
        if (rf > pf[0])
        {
            double ex = cx + (2 * (cx - px[2]));
            double ey = cy + (2 * (cy - py[2]));
            double ef = f(ex, ey);
            (px[2], py[2], pf[2]) = ef > rf ? (ex, ey, ef) : (rx, ry, rf);
            return 2;
        }

        if (rf > pf[1])
        {
            (px[2], py[2], pf[2]) = (rx, ry, rf);
            return 1;
        }

        // Contraction (outside when the reflection beats the worst, else inside).
        bool outside = rf > pf[2];
        double kx = outside ? cx + (0.5 * (rx - cx)) : cx + (0.5 * (px[2] - cx));
        double ky = outside ? cy + (0.5 * (ry - cy)) : cy + (0.5 * (py[2] - cy));
        double kf = f(kx, ky);
        if (kf > Math.Max(outside ? rf : pf[2], double.NegativeInfinity))
        {
            (px[2], py[2], pf[2]) = (kx, ky, kf);
            return 2;
        }

        // Shrink toward the best vertex.
        for (int v = 1; v < 3; v++)
        {
            px[v] = px[0] + (0.5 * (px[v] - px[0]));
            py[v] = py[0] + (0.5 * (py[v] - py[0]));
            pf[v] = f(px[v], py[v]);
        }

        return 4;
    }

    private static void Sort(double[] px, double[] py, double[] pf)
    {
        for (int i = 1; i < 3; i++)
        {
            for (int j = i; j > 0 && Larger(pf[j], pf[j - 1]); j--)
            {
                (px[j], px[j - 1]) = (px[j - 1], px[j]);
                (py[j], py[j - 1]) = (py[j - 1], py[j]);
                (pf[j], pf[j - 1]) = (pf[j - 1], pf[j]);
            }
        }
    }

    // NaN sorts last.
    private static bool Larger(double a, double b) => a > b || (double.IsNaN(b) && !double.IsNaN(a));
}
