namespace GradientSurgery;

/// <summary>
/// A method that carries state from one step to the next (a random generator, running averages, learnable
/// weights). The state goes into training checkpoints so that a resumed run continues exactly as an
/// uninterrupted one would.
/// </summary>
public interface IStateful
{
    /// <summary>Writes the complete mutable state.</summary>
    void SaveState(BinaryWriter writer);

    /// <summary>Restores the state written by <see cref="SaveState"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not this method's state (wrong kind, size or version).</exception>
    void LoadState(BinaryReader reader);
}
