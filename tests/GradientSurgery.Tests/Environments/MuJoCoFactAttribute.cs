using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Tests.Environments;

/// <summary>A fact that needs MuJoCo 2.2.2: skipped, with the reason and the Debian package to install, where it is absent.</summary>
public sealed class MuJoCoFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when MuJoCo cannot be loaded.</summary>
    public MuJoCoFactAttribute()
    {
        if (!MuJoCoLibrary.IsAvailable)
        {
            Skip = MuJoCoLibrary.MissingMessage;
        }
    }
}
