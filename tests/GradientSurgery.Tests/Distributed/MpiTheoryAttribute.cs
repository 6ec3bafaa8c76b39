namespace GradientSurgery.Tests.Distributed;

/// <summary>A theory that needs Open MPI's <c>mpirun</c> on PATH; skipped like <see cref="MpiFactAttribute"/> where it is absent.</summary>
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when mpirun cannot be found.</summary>
    public MpiTheoryAttribute()
    {
        Skip = MpiFactAttribute.SkipReason;
    }
}
