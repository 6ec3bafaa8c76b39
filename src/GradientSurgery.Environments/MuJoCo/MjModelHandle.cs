using Microsoft.Win32.SafeHandles;

namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// Owns one native mjModel and frees it with mj_deleteModel. Every <see cref="MjDataHandle"/> holds a reference on
/// it (SafeHandle reference counting), so a model disposed while data made from it live is freed after the last one.
/// </summary>
internal sealed unsafe class MjModelHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Takes ownership of <paramref name="model"/>, a pointer returned by mj_loadXML.</summary>
    public MjModelHandle(nint model)
        : base(ownsHandle: true) => SetHandle(model);

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        MuJoCoLibrary.Native.DeleteModel(handle);
        return true;
    }
}
