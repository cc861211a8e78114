using System.Text.Json;
using SpectralMonitor.Estimators.Optimizers;

namespace SpectralMonitor.Reference.Tests;

/// <summary>Readers for the PyTorch golden files in tests/fixtures/torch (format: tests/fixtures/README.md).</summary>
internal static class TorchFixtures
{
    private static readonly Lazy<JsonDocument> ModelsDocument = new(() => Load("models.json"));
    private static readonly Lazy<JsonDocument> OptimizersDocument = new(() => Load("optimizers.json"));
    private static readonly Lazy<JsonDocument> JacobiansDocument = new(() => Load("jacobians.json"));

    public static JsonElement Models => ModelsDocument.Value.RootElement;

    public static JsonElement Optimizers => OptimizersDocument.Value.RootElement;

    public static JsonElement Jacobians => JacobiansDocument.Value.RootElement;

    public static JsonElement ModelCase(string name) => Find(Models.GetProperty("cases"), name);

    public static JsonElement OptimizerConfig(string name) => Find(Optimizers.GetProperty("configs"), name);

    public static JsonElement JacobianConfig(string name) => Find(Jacobians.GetProperty("configs"), name);

    public static IEnumerable<string> Names(JsonElement array) =>
        array.EnumerateArray().Select(e => e.GetProperty("name").GetString()!);

    public static double[] Doubles(JsonElement element) =>
        [.. element.EnumerateArray().Select(e => e.GetDouble())];

    /// <summary>The model, its loss and the batch of a case (or of the optimizer files' "model").</summary>
    public static (MlpObjective Objective, Batch Batch, double[] Parameters) Model(JsonElement model)
    {
        int[] sizes = [.. model.GetProperty("sizes").EnumerateArray().Select(e => e.GetInt32())];
        var activation = model.GetProperty("activation").GetString() switch
        {
            "tanh" => HiddenActivation.Tanh,
            "relu" => HiddenActivation.Relu,
            "gelu" => HiddenActivation.Gelu,
            var other => throw new InvalidDataException($"Unknown activation {other}."),
        };
        var architecture = new MlpArchitecture(sizes, activation);
        var inputs = Doubles(model.GetProperty("inputs"));
        Batch batch;
        LossKind loss;
        if (model.GetProperty("loss").GetString() == "mse")
        {
            loss = LossKind.MeanSquaredError;
            batch = Batch.ForRegression(inputs, Doubles(model.GetProperty("targets")), sizes[0], sizes[^1]);
        }
        else
        {
            loss = LossKind.CrossEntropy;
            int[] labels = [.. model.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32())];
            batch = Batch.ForClassification(inputs, labels, sizes[0], sizes[^1]);
        }

        Assert.Equal(model.GetProperty("count").GetInt32(), batch.Count);
        return (new MlpObjective(architecture, loss), batch, Doubles(model.GetProperty("parameters")));
    }

    /// <summary>Our hyperparameter record for a config's torch hyperparameters.</summary>
    public static object Hyperparameters(JsonElement config)
    {
        var hp = config.GetProperty("hyperparameters");
        string kind = config.GetProperty("optimizer").GetString()!;
        double lr = hp.GetProperty("lr").GetDouble();
        bool maximize = hp.GetProperty("maximize").GetBoolean();
        switch (kind)
        {
            case "sgd":
                return new SgdHyperparameters(
                    lr,
                    hp.GetProperty("momentum").GetDouble(),
                    hp.GetProperty("dampening").GetDouble(),
                    hp.GetProperty("weight_decay").GetDouble(),
                    hp.GetProperty("nesterov").GetBoolean(),
                    maximize);
            case "adam":
            case "adamw":
                var betas = Doubles(hp.GetProperty("betas"));
                return new AdamHyperparameters(
                    lr,
                    betas[0],
                    betas[1],
                    hp.GetProperty("eps").GetDouble(),
                    hp.GetProperty("weight_decay").GetDouble(),
                    hp.GetProperty("amsgrad").GetBoolean(),
                    Decoupled: kind == "adamw",
                    maximize);
            case "rmsprop":
                return new RmsPropHyperparameters(
                    lr,
                    hp.GetProperty("alpha").GetDouble(),
                    hp.GetProperty("eps").GetDouble(),
                    hp.GetProperty("weight_decay").GetDouble(),
                    hp.GetProperty("momentum").GetDouble(),
                    hp.GetProperty("centered").GetBoolean(),
                    maximize);
            default:
                throw new InvalidDataException($"Unknown optimizer {kind}.");
        }
    }

    /// <summary>A snapshot built from torch-named state vectors.</summary>
    public static OptimizerSnapshot<double[]> Snapshot(object hyperparameters, IReadOnlyDictionary<string, double[]> state, long step) => hyperparameters switch
    {
        SgdHyperparameters sgd => new SgdSnapshot<double[]>(sgd, state.GetValueOrDefault("momentum_buffer")),
        AdamHyperparameters adam => new AdamSnapshot<double[]>(adam, step, state["exp_avg"], state["exp_avg_sq"], state.GetValueOrDefault("max_exp_avg_sq")),
        RmsPropHyperparameters rms => new RmsPropSnapshot<double[]>(rms, step, state["square_avg"], state.GetValueOrDefault("momentum_buffer"), state.GetValueOrDefault("grad_avg")),
        _ => throw new ArgumentException("Unknown hyperparameters."),
    };

    /// <summary>The state vectors of a snapshot under torch's names (absent ones omitted).</summary>
    public static Dictionary<string, double[]> StateByName(OptimizerSnapshot<double[]> snapshot)
    {
        var state = new Dictionary<string, double[]>();
        switch (snapshot)
        {
            case SgdSnapshot<double[]> sgd:
                Add("momentum_buffer", sgd.MomentumBuffer);
                break;
            case AdamSnapshot<double[]> adam:
                Add("exp_avg", adam.ExpAvg);
                Add("exp_avg_sq", adam.ExpAvgSq);
                Add("max_exp_avg_sq", adam.MaxExpAvgSq);
                break;
            case RmsPropSnapshot<double[]> rms:
                Add("square_avg", rms.SquareAvg);
                Add("momentum_buffer", rms.MomentumBuffer);
                Add("grad_avg", rms.GradAvg);
                break;
            default:
                throw new ArgumentException("Unknown snapshot.");
        }

        return state;

        void Add(string name, double[]? vector)
        {
            if (vector is not null)
            {
                state[name] = vector;
            }
        }
    }

    public static Dictionary<string, double[]> StateFromJson(JsonElement state) =>
        state.EnumerateObject().ToDictionary(p => p.Name, p => Doubles(p.Value));

    private static JsonElement Find(JsonElement array, string name) =>
        array.EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);

    private static JsonDocument Load(string file) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "torch", file)));
}
