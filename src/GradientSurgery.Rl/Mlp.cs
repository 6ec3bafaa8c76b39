using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace GradientSurgery.Rl;

/// <summary>The multilayer perceptrons of the agents: linear layers with ReLU between them (none after the last).</summary>
public static class Mlp
{
    /// <summary><paramref name="input"/> → each of <paramref name="hidden"/> (ReLU) → <paramref name="output"/>, initialised from the global torch seed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1.</exception>
    public static Sequential Create(int input, IReadOnlyList<int> hidden, int output)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        int[] sizes = [input, .. hidden, output];
        for (var i = 0; i < sizes.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(sizes[i], 1, i == 0 ? "input" : i == sizes.Length - 1 ? "output" : $"hidden[{i - 1}]");
        }
        var layers = new List<Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>>();
        for (var i = 0; i + 1 < sizes.Length; i++)
        {
            layers.Add(Linear(sizes[i], sizes[i + 1]));
            if (i + 2 < sizes.Length)
            {
                layers.Add(ReLU());
            }
        }
        return Sequential(layers);
    }
}
