using GradientSurgery.Aggregation;
using TorchSharp;
using static TorchSharp.torch;

namespace GradientSurgery.Weighting;

/// <summary>Validation and small tensor helpers shared by the loss weightings.</summary>
internal static class LossList
{
    /// <summary>
    /// Checks the list (non-empty, scalar floating-point finite losses on one device) and returns the values.
    /// </summary>
    public static double[] Values(IReadOnlyList<Tensor> losses, string parameterName = "losses")
    {
        ArgumentNullException.ThrowIfNull(losses, parameterName);
        if (losses.Count == 0)
        {
            throw new ArgumentException("The list of task losses is empty; pass one scalar loss per task.", parameterName);
        }
        var values = new double[losses.Count];
        Tensor? first = null;
        for (var i = 0; i < losses.Count; i++)
        {
            var loss = losses[i] ?? throw new ArgumentException($"The loss of task {i} is null.", parameterName);
            if (loss.IsInvalid)
            {
                throw new ArgumentException($"The loss of task {i} has been disposed.", parameterName);
            }
            if (loss.numel() != 1)
            {
                throw new ArgumentException(
                    $"The loss of task {i} is not a scalar: it has shape {Jacobian.ShapeText(loss)}. Reduce it (e.g. with .mean()) first.", parameterName);
            }
            if (!loss.is_floating_point())
            {
                throw new ArgumentException($"The loss of task {i} has dtype {loss.dtype}; a loss must be floating point.", parameterName);
            }
            first ??= loss;
            if (!SameDevice(loss, first))
            {
                throw new ArgumentException($"The loss of task {i} is on {loss.device}, but the loss of task 0 is on {first.device}.", parameterName);
            }
            values[i] = loss.ToDouble();
            if (!double.IsFinite(values[i]))
            {
                throw new ArithmeticException($"The loss of task {i} is {values[i]}; a loss weighting needs finite losses.");
            }
        }
        return values;
    }

    /// <summary>Throws unless every value is &gt; 0 (methods that take logarithms or ratios of the losses).</summary>
    public static void RequirePositive(IReadOnlyList<double> values, string method, string why, string parameterName = "losses")
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (!(values[i] > 0.0))
            {
                throw new ArgumentException($"The loss of task {i} is {values[i]}, but {method} {why}, so every loss must be > 0.", parameterName);
            }
        }
    }

    /// <summary>Throws unless every value is ≥ 0.</summary>
    public static void RequireNonNegative(IReadOnlyList<double> values, string method, string why, string parameterName = "losses")
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (!(values[i] >= 0.0))
            {
                throw new ArgumentException($"The loss of task {i} is {values[i]}, but {method} {why}, so every loss must be ≥ 0.", parameterName);
            }
        }
    }

    /// <summary>Throws when a stateful method that was set up for <paramref name="expected"/> tasks receives another number.</summary>
    public static void RequireTaskCount(int expected, int actual, string method, string parameterName = "losses")
    {
        if (expected != actual)
        {
            throw new ArgumentException($"{method} is set up for {expected} tasks, but {actual} losses were given.", parameterName);
        }
    }

    /// <summary>The loss as a 0-dimensional tensor (a [1] or [1, 1] loss is reshaped, not copied).</summary>
    public static Tensor Scalar(Tensor loss) => loss.dim() == 0 ? loss : loss.reshape(Array.Empty<long>());

    /// <summary>Σ_i w_i L_i with the weights as plain numbers (so nothing flows back into them).</summary>
    public static Tensor WeightedSum(IReadOnlyList<Tensor> losses, IReadOnlyList<double> weights)
    {
        Tensor? total = null;
        for (var i = 0; i < losses.Count; i++)
        {
            var term = Scalar(losses[i]) * weights[i];
            total = total is null ? term : total + term;
        }
        return total!;
    }

    /// <summary>The dtype every loss can be converted to without losing precision (float64 if any loss is float64).</summary>
    public static ScalarType CommonDtype(IReadOnlyList<Tensor> losses)
    {
        var dtype = losses[0].dtype;
        foreach (var loss in losses)
        {
            dtype = promote_types(dtype, loss.dtype);
        }
        return dtype;
    }

    // Device objects compare by reference in TorchSharp.
    public static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;

    /// <summary>Writes a tag-free array: its length, then its values.</summary>
    public static void WriteArray(BinaryWriter writer, IReadOnlyList<double> values)
    {
        writer.Write(values.Count);
        foreach (var value in values)
        {
            writer.Write(value);
        }
    }

    /// <summary>Reads an array written by <see cref="WriteArray"/>, refusing a length other than <paramref name="expectedLength"/>.</summary>
    public static double[] ReadArray(BinaryReader reader, int expectedLength, string method, string what)
    {
        var length = reader.ReadInt32();
        if (length != expectedLength)
        {
            throw new InvalidDataException($"The {method} state holds {length} values for {what}; expected {expectedLength}.");
        }
        var values = new double[length];
        for (var i = 0; i < length; i++)
        {
            values[i] = reader.ReadDouble();
        }
        return values;
    }

    /// <summary>The values of a small tensor, as float64 on the CPU.</summary>
    public static double[] ToDoubles(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        return tensor.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
    }
}
