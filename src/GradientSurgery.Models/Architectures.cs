namespace GradientSurgery.Models;

/// <summary>
/// The multi-task architectures by name, as <c>gsurg train --arch</c> takes them, for images of any size the LeNet
/// trunk fits (MultiMNIST's 1×28×28 by default). Each works with every method of the catalog; each declares which parameters are shared (the surgery's)
/// and which are a task's own.
/// </summary>
public static class Architectures
{
    private static readonly (string Name, string Description, Func<int, int, ImageShape, MultiTaskModule> Create)[] Table =
    [
        ("hps", "hard parameter sharing: MultiLeNet's trunk shared, one head per task (Sener & Koltun, 2018)", (tasks, classes, input) => new MultiLeNet(tasks, classes, input: input)),
        ("crossstitch", "cross-stitch network: one MultiLeNet column per task, learned α units between blocks (Misra et al., 2016)", (tasks, classes, input) => new CrossStitchNetwork(tasks, classes, input)),
        ("mmoe", "multi-gate mixture of experts: 3 shared MultiLeNet-trunk experts, one softmax gate and tower per task (Ma et al., 2018)", (tasks, classes, input) => new MmoeNetwork(tasks, classes, input: input)),
        ("mtan", "multi-task attention network: MultiLeNet's trunk shared, per-task soft attention at each block (Liu et al., 2019)", (tasks, classes, input) => new MtanNetwork(tasks, classes, input)),
        ("routing", "routing network: shared trunk, routed layers of shared blocks chosen per task by a WPL router, per-task outputs; on CIFAR-100 the paper's CIFAR-MTL network (Rosenbaum et al., 2018)", Routing),
    ];

    // CIFAR-100's 3×32×32 images get the network of the routing paper's CIFAR-MTL experiment; others the LeNet trunk.
    private static MultiTaskModule Routing(int tasks, int classes, ImageShape input) =>
        input == new ImageShape(3, 32) ? RoutingNetwork.ForCifarMtl(tasks, classes) : RoutingNetwork.ForMultiMnist(tasks, classes, input: input);

    /// <summary>The names <see cref="Create"/> accepts, in the order of the documentation.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Table.Select(e => e.Name)];

    /// <summary>One line on what each architecture is, by name.</summary>
    public static string Describe(string name) => Entry(name).Description;

    /// <summary>Builds an architecture; initial weights come from the global torch generator.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="tasks">Number of tasks.</param>
    /// <param name="classes">Classes per task.</param>
    /// <param name="input">The images; MultiMNIST's 1×28×28 when null.</param>
    /// <exception cref="ArgumentException">An unknown name, or images too small for the architecture.</exception>
    public static MultiTaskModule Create(string name, int tasks, int classes, ImageShape? input = null) => Entry(name).Create(tasks, classes, input ?? ImageShape.MultiMnist);

    private static (string Name, string Description, Func<int, int, ImageShape, MultiTaskModule> Create) Entry(string name)
    {
        foreach (var entry in Table)
        {
            if (string.Equals(entry.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return entry;
            }
        }
        throw new ArgumentException($"Unknown architecture '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name));
    }
}
