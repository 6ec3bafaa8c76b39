namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// The simulation state of one <see cref="MjModel"/> (mjData): positions, velocities, controls, mocap targets and
/// what <see cref="Forward"/>/<see cref="Step()"/> compute from them. The array properties are spans over the native
/// arrays — writes go straight to MuJoCo — valid until this data is disposed; do not keep them longer. Holds its
/// model (and the model's native memory) alive. Not thread-safe: use one MjData per thread.
/// </summary>
public sealed unsafe class MjData : IDisposable
{
    private readonly MjDataHandle _handle;
    private readonly int _nq, _nv, _nu, _nbody, _nsite, _nmocap;

    /// <summary>Makes data for <paramref name="model"/> (mj_makeData) in the model's initial state (qpos0, at rest, time 0).</summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    /// <exception cref="MuJoCoUnavailableException">MuJoCo 2.2.2 is not installed.</exception>
    public MjData(MjModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // Model sizes never change after compilation: read once, they bound every span below.
        (_nq, _nv, _nu, _nbody, _nsite, _nmocap) = (model.Nq, model.Nv, model.Nu, model.Nbody, model.Nsite, model.Nmocap);
        _handle = new MjDataHandle(model.Handle);
        Model = model;
    }

    /// <summary>The model this data simulates.</summary>
    public MjModel Model { get; }

    /// <summary>Simulation time (s).</summary>
    public double Time => *(double*)(Pointer + MjLayout.DataTime);

    /// <summary>Number of contacts detected by the last <see cref="Forward"/> or <see cref="Step()"/>.</summary>
    public int Ncon => *(int*)(Pointer + MjLayout.DataNcon);

    /// <summary>Generalized positions (nq); a free joint takes 7 (position, then quaternion w, x, y, z).</summary>
    public Span<double> Qpos => Array(MjLayout.DataQpos, _nq);

    /// <summary>Generalized velocities (nv); a free joint takes 6 (linear, then angular).</summary>
    public Span<double> Qvel => Array(MjLayout.DataQvel, _nv);

    /// <summary>Controls of the actuators (nu).</summary>
    public Span<double> Ctrl => Array(MjLayout.DataCtrl, _nu);

    /// <summary>Positions of the mocap bodies (3 per mocap body; index from <see cref="MjModel.BodyMocapId"/>). Takes effect on the next <see cref="Forward"/> or <see cref="Step()"/>.</summary>
    public Span<double> MocapPos => Array(MjLayout.DataMocapPos, 3 * _nmocap);

    /// <summary>Orientations of the mocap bodies (4 per mocap body, quaternion w, x, y, z).</summary>
    public Span<double> MocapQuat => Array(MjLayout.DataMocapQuat, 4 * _nmocap);

    /// <summary>Cartesian positions of the body frames (3 per body), as of the last <see cref="Forward"/> or <see cref="Step()"/>.</summary>
    public ReadOnlySpan<double> Xpos => Array(MjLayout.DataXpos, 3 * _nbody);

    /// <summary>Cartesian orientations of the body frames (4 per body, quaternion w, x, y, z).</summary>
    public ReadOnlySpan<double> Xquat => Array(MjLayout.DataXquat, 4 * _nbody);

    /// <summary>Cartesian positions of the sites (3 per site).</summary>
    public ReadOnlySpan<double> SiteXpos => Array(MjLayout.DataSiteXpos, 3 * _nsite);

    /// <summary>Cartesian orientations of the sites (9 per site, row-major rotation matrices).</summary>
    public ReadOnlySpan<double> SiteXmat => Array(MjLayout.DataSiteXmat, 9 * _nsite);

    /// <summary>
    /// Whether the simulation went numerically bad since this data was made or last <see cref="Reset"/>: MuJoCo found a
    /// bad number in qpos, qvel or qacc and, as it does then, reset the state itself. An environment should end the
    /// episode (and count it as unstable) rather than carry on from the silently reset state.
    /// </summary>
    public bool IsUnstable =>
        WarningCount(MjWarning.BadQpos) > 0 || WarningCount(MjWarning.BadQvel) > 0 || WarningCount(MjWarning.BadQacc) > 0;

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>How many times MuJoCo raised the warning <paramref name="kind"/> since this data was made or last <see cref="Reset"/> (mjData.warning[kind].number).</summary>
    public int WarningCount(MjWarning kind)
    {
        if ((uint)kind >= MjLayout.WarningCount)
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a MuJoCo 2.2.2 warning.");
        }
        return *(int*)(Pointer + MjLayout.DataWarning + (int)kind * MjLayout.SizeOfWarningStat + MjLayout.WarningStatNumber);
    }

    /// <summary>Back to the model's initial state (mj_resetData): qpos0, at rest, zero controls, time 0, warning counts cleared.</summary>
    public void Reset()
    {
        var data = Pointer;
        MuJoCoLibrary.Native.ResetData(_handle.Model, data);
    }

    /// <summary>Advances the simulation by one <see cref="MjModel.Timestep"/> (mj_step).</summary>
    public void Step()
    {
        var data = Pointer;
        MuJoCoLibrary.Native.Step(_handle.Model, data);
    }

    /// <summary>Advances the simulation by <paramref name="count"/> time steps with the same controls (a control step of a coarser environment).</summary>
    public void Step(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var data = Pointer;
        var model = _handle.Model;
        var step = MuJoCoLibrary.Native.Step;
        for (var i = 0; i < count; i++)
        {
            step(model, data);
        }
    }

    /// <summary>Computes everything that depends on the state without advancing time (mj_forward): call it after writing <see cref="Qpos"/> or <see cref="MocapPos"/> to read positions.</summary>
    public void Forward()
    {
        var data = Pointer;
        MuJoCoLibrary.Native.Forward(_handle.Model, data);
    }

    /// <summary>Frees the native data (and releases its hold on the model). Safe to call twice.</summary>
    public void Dispose() => _handle.Dispose();

    private Span<double> Array(int offset, int length) => new(*(double**)(Pointer + offset), length);
}
