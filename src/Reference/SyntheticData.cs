namespace SpectralMonitor.Reference;

/// <summary>Seeded synthetic data sets: the same arguments always give the same samples.</summary>
public static class SyntheticData
{
    /// <summary>
    /// Regression data from a random teacher network: inputs are standard normal, targets are the outputs of a
    /// <c>d → teacherWidth → k</c> tanh MLP (weights and biases uniform in <c>±2/√fan_in</c>) plus Gaussian noise.
    /// </summary>
    /// <param name="count">Number of samples.</param>
    /// <param name="inputDimension">Input width d.</param>
    /// <param name="outputDimension">Target width k.</param>
    /// <param name="seed">Seed of every random draw.</param>
    /// <param name="teacherWidth">Hidden width of the teacher.</param>
    /// <param name="noise">Standard deviation of the additive target noise (non-negative).</param>
    /// <returns>A regression batch.</returns>
    /// <exception cref="ArgumentException">A size is not positive or <paramref name="noise"/> is negative or not finite.</exception>
    public static Batch Regression(int count, int inputDimension, int outputDimension, int seed, int teacherWidth = 16, double noise = 0.1)
    {
        CheckPositive(count, nameof(count));
        CheckPositive(inputDimension, nameof(inputDimension));
        CheckPositive(outputDimension, nameof(outputDimension));
        CheckPositive(teacherWidth, nameof(teacherWidth));
        if (!(noise >= 0) || !double.IsFinite(noise))
        {
            throw new ArgumentException($"noise = {noise} must be finite and non-negative.", nameof(noise));
        }

        var teacher = new MlpArchitecture([inputDimension, teacherWidth, outputDimension], HiddenActivation.Tanh);
        var parameters = teacher.InitializeParameters(seed);
        for (int i = 0; i < parameters.Length; i++)
        {
            parameters[i] *= 2;
        }

        var random = new Random(unchecked(seed + 1));
        var inputs = new double[count * inputDimension];
        FillNormal(random, inputs, 1.0);
        var targets = new double[count * outputDimension];
        var objective = new MlpObjective(teacher, LossKind.MeanSquaredError);
        objective.Predict(parameters, Batch.ForRegression(inputs, targets, inputDimension, outputDimension), targets);
        var noiseValues = new double[targets.Length];
        FillNormal(random, noiseValues, noise);
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] += noiseValues[i];
        }

        return Batch.ForRegression(inputs, targets, inputDimension, outputDimension);
    }

    /// <summary>
    /// Classification data from Gaussian blobs: class centres are normal with standard deviation
    /// <paramref name="separation"/>, labels are uniform over the classes, and each input is its class centre plus
    /// standard normal noise.
    /// </summary>
    /// <param name="count">Number of samples.</param>
    /// <param name="inputDimension">Input width.</param>
    /// <param name="classCount">Number of classes (at least 2).</param>
    /// <param name="seed">Seed of every random draw.</param>
    /// <param name="separation">Scale of the class centres (positive): larger is easier.</param>
    /// <returns>A classification batch.</returns>
    /// <exception cref="ArgumentException">A size is out of range or <paramref name="separation"/> is not finite and positive.</exception>
    public static Batch Classification(int count, int inputDimension, int classCount, int seed, double separation = 3.0)
    {
        CheckPositive(count, nameof(count));
        CheckPositive(inputDimension, nameof(inputDimension));
        if (classCount < 2)
        {
            throw new ArgumentException($"classCount = {classCount} must be at least 2.", nameof(classCount));
        }

        if (!(separation > 0) || !double.IsFinite(separation))
        {
            throw new ArgumentException($"separation = {separation} must be finite and positive.", nameof(separation));
        }

        var random = new Random(seed);
        var centres = new double[classCount * inputDimension];
        FillNormal(random, centres, separation);
        var labels = new int[count];
        var inputs = new double[count * inputDimension];
        FillNormal(random, inputs, 1.0);
        for (int n = 0; n < count; n++)
        {
            int label = random.Next(classCount);
            labels[n] = label;
            for (int i = 0; i < inputDimension; i++)
            {
                inputs[(n * inputDimension) + i] += centres[(label * inputDimension) + i];
            }
        }

        return Batch.ForClassification(inputs, labels, inputDimension, classCount);
    }

    /// <summary>Fills with independent normal draws of the given standard deviation (Box–Muller).</summary>
    private static void FillNormal(Random random, Span<double> values, double standardDeviation)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double r = standardDeviation * Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = r * Math.Cos(2 * Math.PI * u2);
            if (i + 1 < values.Length)
            {
                values[i + 1] = r * Math.Sin(2 * Math.PI * u2);
            }
        }
    }

    private static void CheckPositive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{name} = {value} must be positive.", name);
        }
    }
}
