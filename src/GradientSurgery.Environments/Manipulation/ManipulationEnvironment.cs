using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// A manipulation task on MuJoCo: the shared table-and-gripper scene with the task's objects. One observation layout
/// for every task (Meta-World's), so one network serves all of them.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Action (4 numbers, clipped to [−1, 1]): Δx, Δy, Δz of the hand's target in centimetres per control step, and the
/// gripper command (+1 closes, −1 opens; the fingers squeeze with at most 20 N). The hand stays inside the workspace x ∈ [−0.5, 0.5], y ∈ [0.35, 1.0],
/// z ∈ [0.005, 0.5].</item>
/// <item>A control step is <see cref="FrameSkip"/> physics steps of 2.5 ms (12.5 ms); an episode is
/// <see cref="EpisodeLength"/> control steps (Meta-World's 500 at 5 physics steps each).</item>
/// <item>Observation (39 floats): [0, 3) hand position; [3] gripper opening (0 closed … 1 open); [4, 7) first object's
/// position, [7, 11) its orientation (quaternion w, x, y, z); [11, 18) the second object's likewise (zeros when the task
/// has fewer objects); [18, 36) the same 18 numbers one control step earlier; [36, 39) the goal.</item>
/// <item>If MuJoCo flags the simulation as unstable (bad qpos, qvel or qacc), the episode ends as terminated and
/// <see cref="UnstableEpisodes"/> counts it: nothing carries on from the state MuJoCo reset by itself.</item>
/// </list>
/// </remarks>
public sealed class ManipulationEnvironment : IEnvironment, ITrackedEnvironment
{
    /// <summary>Entries of an observation.</summary>
    public const int ObservationLength = 39;

    /// <summary>Physics steps per control step.</summary>
    public const int FrameSkip = 5;

    /// <summary>Control steps per episode.</summary>
    public const int EpisodeLength = 500;

    /// <summary>Hand displacement of a full action (m per control step).</summary>
    public const double ActionScale = 0.01;

    internal const int HandIndex = 0, GripperIndex = 3, ObjectIndex = 4, SecondObjectIndex = 11, FrameLength = 18, GoalIndex = 36;

    // Internal so that the environment benchmark can replay the same hand-target path on raw physics.
    internal static readonly Vec3 WorkspaceLow = new(-0.5, 0.35, 0.005);
    internal static readonly Vec3 WorkspaceHigh = new(0.5, 1.0, 0.5);

    private readonly ManipulationTask _task;
    private readonly MjModel _model;
    private readonly MjData _data;
    private readonly int _fingerQpos;
    private readonly int _handBody;
    private readonly int _target;
    private readonly int[] _trackedBodies;
    private readonly float[] _frame = new float[FrameLength];
    private readonly float[] _previous = new float[FrameLength];
    private Vec3 _goal;
    private int _step = -1;

    internal ManipulationEnvironment(ManipulationTask task)
    {
        _task = task;
        _model = MjModel.FromXmlString(ManipulationScene.Xml(task.Name, task.Bodies, task.Extra));
        try
        {
            _data = new MjData(_model);
            _fingerQpos = _model.JointQposAddress[_model.RequireId(MjObjectType.Joint, "left_finger")];
            _handBody = _model.RequireId(MjObjectType.Body, "hand");
            _target = 3 * _model.BodyMocapId[_model.RequireId(MjObjectType.Body, "hand_target")];
            _trackedBodies = [.. task.TrackedBodies.Select(b => _model.RequireId(MjObjectType.Body, b))];
        }
        catch
        {
            _data?.Dispose();
            _model.Dispose();
            throw;
        }
        Spec = new EnvironmentSpec(task.Name, ObservationLength, ActionSize: 4, EpisodeLength);
    }

    /// <inheritdoc />
    public EnvironmentSpec Spec { get; }

    /// <summary>The simulation (and through it the model), for the benchmark's raw-physics replay and the memory tests.</summary>
    internal MjData Data => _data;

    /// <summary>Episodes ended early because MuJoCo flagged the simulation as unstable.</summary>
    public int UnstableEpisodes { get; private set; }

    /// <inheritdoc />
    public (double X, double Y, double Z) Hand => BodyPosition(_handBody).Tuple;

    /// <inheritdoc />
    public (double X, double Y, double Z)? Object => _trackedBodies.Length == 0 ? null : BodyPosition(_trackedBodies[0]).Tuple;

    /// <inheritdoc />
    public (double X, double Y, double Z) Goal => _goal.Tuple;

    /// <inheritdoc />
    public void Reset(ulong seed, Span<float> observation)
    {
        ActionInput.RequireLength(observation.Length, ObservationLength, "observation buffer", Spec);
        _data.Reset();
        var start = _task.HandStart;
        var mocap = _data.MocapPos.Slice(_target, 3);
        (mocap[0], mocap[1], mocap[2]) = (start.X, start.Y, start.Z);
        ManipulationTask.PlaceFreeBody(_model, _data, "hand", start);
        _goal = _task.Place(new SplitMix64(seed), _model, _data);
        _data.Forward();
        ReadFrame(_frame);
        _frame.CopyTo(_previous, 0);
        _step = 0;
        Observe(observation);
    }

    /// <inheritdoc />
    public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
    {
        if (_step < 0 || _step >= EpisodeLength)
        {
            throw new InvalidOperationException($"Task {Spec.TaskName}: no episode is running; call Reset first (and again after an episode ends).");
        }
        ActionInput.RequireLength(observation.Length, ObservationLength, "observation buffer", Spec);
        Span<double> clipped = stackalloc double[4];
        ActionInput.Clip(action, clipped, Spec, _step);
        var mocap = _data.MocapPos.Slice(_target, 3);
        var (x0, y0, z0) = (mocap[0], mocap[1], mocap[2]);
        var x1 = Math.Clamp(x0 + (ActionScale * clipped[0]), WorkspaceLow.X, WorkspaceHigh.X);
        var y1 = Math.Clamp(y0 + (ActionScale * clipped[1]), WorkspaceLow.Y, WorkspaceHigh.Y);
        var z1 = Math.Clamp(z0 + (ActionScale * clipped[2]), WorkspaceLow.Z, WorkspaceHigh.Z);
        // The effort maps to the servo's target: −1 fully open, +1 fully closed (held objects stop the fingers earlier).
        _data.Ctrl[0] = _data.Ctrl[1] = 0.5 * (clipped[3] + 1) * ManipulationScene.FingerTravel;
        for (var k = 1; k <= FrameSkip; k++)
        {
            // The hand moves a fifth of the way each physics step rather than jumping a centimetre at once, so that a
            // held object is carried by friction instead of being knocked out of the fingers.
            var f = (double)k / FrameSkip;
            (mocap[0], mocap[1], mocap[2]) = (x0 + (f * (x1 - x0)), y0 + (f * (y1 - y0)), z0 + (f * (z1 - z0)));
            _data.Step();
        }
        _step++;
        if (_data.IsUnstable)
        {
            UnstableEpisodes++;
            Observe(observation);
            return new StepResult(0, Terminated: true, Truncated: false, Success: false);
        }
        _frame.CopyTo(_previous, 0);
        ReadFrame(_frame);
        Observe(observation);
        var hand = BodyPosition(_handBody);
        var state = new TaskState(hand, _frame[GripperIndex], _trackedBodies.Length > 0 ? BodyPosition(_trackedBodies[0]) : hand, _goal, _data);
        return new StepResult(_task.Reward(state), Terminated: false, Truncated: _step == EpisodeLength, _task.Success(state));
    }

    /// <summary>Frees the simulation.</summary>
    public void Dispose()
    {
        _data.Dispose();
        _model.Dispose();
    }

    private Vec3 BodyPosition(int body)
    {
        var xpos = _data.Xpos;
        return new Vec3(xpos[3 * body], xpos[(3 * body) + 1], xpos[(3 * body) + 2]);
    }

    private void ReadFrame(float[] frame)
    {
        Array.Clear(frame);
        var hand = BodyPosition(_handBody);
        (frame[0], frame[1], frame[2]) = ((float)hand.X, (float)hand.Y, (float)hand.Z);
        frame[GripperIndex] = (float)Math.Clamp(1 - (_data.Qpos[_fingerQpos] / ManipulationScene.FingerTravel), 0, 1);
        var xpos = _data.Xpos;
        var xquat = _data.Xquat;
        for (var k = 0; k < _trackedBodies.Length; k++)
        {
            var body = _trackedBodies[k];
            var at = k == 0 ? ObjectIndex : SecondObjectIndex;
            for (var i = 0; i < 3; i++)
            {
                frame[at + i] = (float)xpos[(3 * body) + i];
            }
            for (var i = 0; i < 4; i++)
            {
                frame[at + 3 + i] = (float)xquat[(4 * body) + i];
            }
        }
    }

    private void Observe(Span<float> observation)
    {
        _frame.CopyTo(observation);
        _previous.CopyTo(observation[FrameLength..]);
        (observation[GoalIndex], observation[GoalIndex + 1], observation[GoalIndex + 2]) = ((float)_goal.X, (float)_goal.Y, (float)_goal.Z);
    }
}
