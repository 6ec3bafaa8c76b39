namespace GradientSurgery.Aggregation;

/// <summary>
/// A <see cref="GramianWeighting"/> that draws random numbers (PCGrad's task orders, RLW's weights): one seeded
/// <see cref="SplitMix64"/> whose 64-bit state is the method's checkpoint state, so that a resumed run draws exactly
/// what an uninterrupted run would have drawn.
/// </summary>
public abstract class RandomizedGramianWeighting : GramianWeighting, IStateful
{
    private readonly string _stateTag;
    private readonly string _methodName;

    /// <summary>Creates the generator.</summary>
    /// <param name="seed">The seed; null draws a fresh random one.</param>
    /// <param name="stateTag">The tag (method and format version) written before the state.</param>
    /// <param name="methodName">The method's name, for error messages.</param>
    private protected RandomizedGramianWeighting(long? seed, string stateTag, string methodName)
    {
        Generator = StateFormat.SeededGenerator(seed);
        (_stateTag, _methodName) = (stateTag, methodName);
    }

    /// <summary>The state of the generator; setting a state saved earlier replays the draws made from it.</summary>
    public ulong RandomState
    {
        get => Generator.State;
        set => Generator.State = value;
    }

    /// <summary>The method's generator.</summary>
    private protected SplitMix64 Generator { get; }

    /// <inheritdoc />
    public virtual void SaveState(BinaryWriter writer) => StateFormat.WriteSeeded(writer, _stateTag, Generator);

    /// <inheritdoc />
    public virtual void LoadState(BinaryReader reader) => RandomState = ReadGeneratorState(reader);

    /// <summary>Reads what the base <see cref="SaveState"/> wrote, without applying it (for methods with more state to check first).</summary>
    private protected ulong ReadGeneratorState(BinaryReader reader) => StateFormat.ReadSeeded(reader, _stateTag, _methodName);
}
