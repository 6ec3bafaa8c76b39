using Microsoft.Win32.SafeHandles;

namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// Owns one native mjData and frees it with mj_deleteData, and keeps its model's native memory alive meanwhile: an
/// mjData is only meaningful with the mjModel it was made from, which every call on it passes along.
/// </summary>
internal sealed unsafe class MjDataHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private readonly MjModelHandle _model;

    /// <summary>Makes an mjData for <paramref name="model"/> (mj_makeData) and takes a reference on the model.</summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    /// <exception cref="OutOfMemoryException">MuJoCo could not allocate the data.</exception>
    public MjDataHandle(MjModelHandle model)
        : base(ownsHandle: true)
    {
        var added = false;
        try
        {
            model.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            throw new ObjectDisposedException(nameof(MjModel), "The model was disposed: an MjData needs a live MjModel.");
        }
        _model = model;
        var data = MuJoCoLibrary.Native.MakeData(model.DangerousGetHandle());
        if (data == 0)
        {
            model.DangerousRelease();
            throw new OutOfMemoryException("mj_makeData could not allocate the MuJoCo data.");
        }
        SetHandle(data);
    }

    /// <summary>The native mjModel this data belongs to (kept alive by the reference this handle holds).</summary>
    public nint Model => _model.DangerousGetHandle();

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        MuJoCoLibrary.Native.DeleteData(handle);
        _model.DangerousRelease();
        return true;
    }
}
