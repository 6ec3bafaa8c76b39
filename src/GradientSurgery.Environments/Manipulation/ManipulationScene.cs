using System.Globalization;

namespace GradientSurgery.Environments.Manipulation;

/// <summary>
/// The MJCF every manipulation task shares: a table whose top is the plane z = 0 (centred at y = 0.65), and a
/// two-finger gripper. The actions move a mocap target to which the hand, a free body, is welded (as Meta-World drives
/// its Sawyer's hand): the hand then has a real velocity, which friction needs to carry a held object — a hand that is
/// itself a mocap body is teleported with zero velocity and slides past what it holds. Each finger is on a slide joint driven by a
/// position servo (both get the same target; at most 10 N each, so that a held object is squeezed, not pushed through). A task adds its own bodies inside the world.
/// </summary>
/// <remarks>
/// Written from scratch for this project (not Meta-World's Sawyer model): the arm is left out — the hand is moved
/// directly, as Meta-World itself does through its mocap weld — which keeps each task a few dozen degrees of freedom.
/// Physics step 2.5 ms (Meta-World's), elliptic friction cones with impratio 10 so that a grasped object does not slip.
/// </remarks>
internal static class ManipulationScene
{
    /// <summary>Half the gap between the fingers' pads when fully open (m).</summary>
    public const double FingerOpen = 0.036;

    /// <summary>How far each finger's slide joint can travel toward the other (m).</summary>
    public const double FingerTravel = 0.03;

    /// <summary>
    /// The fingers' joint damping (N s/m): their servo's 10 N then closes them at most 0.7 m/s, under 2 mm per physics
    /// step, so that a pad cannot pass through a thin handle between two steps (at 5 N s/m a fast pad tunnelled
    /// through the door's handle).
    /// </summary>
    public const double FingerDamping = 15;

    /// <summary>The complete model of a task: the shared scene with <paramref name="worldBodies"/> (MJCF elements inside worldbody) added.</summary>
    public static string Xml(string name, string worldBodies, string extra = "") => string.Create(CultureInfo.InvariantCulture, $"""
        <mujoco model="gsurg-{name}">
          <compiler angle="radian" autolimits="true"/>
          <option timestep="0.0025" gravity="0 0 -9.81" cone="elliptic" impratio="10"/>
          <default>
            <geom friction="1 0.005 0.0001" solref="0.005 1" solimp="0.99 0.999 0.001" condim="4"/>
            <joint damping="1"/>
          </default>
          <worldbody>
            <light pos="0 0.6 1.5" dir="0 0 -1"/>
            <geom name="floor" type="plane" pos="0 0 -0.8" size="3 3 0.1" rgba=".8 .8 .8 1"/>
            <geom name="table" type="box" pos="0 0.65 -0.025" size="0.6 0.4 0.025" rgba=".6 .45 .3 1"/>
            <body name="hand_target" mocap="true" pos="0 0.6 0.2"/>
            <body name="hand" pos="0 0.6 0.2">
              <joint name="hand" type="free" damping="5"/>
              <geom name="palm" type="box" size="{FingerOpen + 0.012} 0.015 0.01" pos="0 0 0.065" mass="0.5" rgba=".3 .3 .35 1"/>
              <body name="left_finger" pos="{-FingerOpen - 0.004} 0 0.025">
                <joint name="left_finger" type="slide" axis="1 0 0" range="0 {FingerTravel}" damping="{FingerDamping}"/>
                <geom name="left_pad" type="box" size="0.004 0.012 0.025" mass="0.02" rgba=".2 .2 .2 1"/>
              </body>
              <body name="right_finger" pos="{FingerOpen + 0.004} 0 0.025">
                <joint name="right_finger" type="slide" axis="-1 0 0" range="0 {FingerTravel}" damping="{FingerDamping}"/>
                <geom name="right_pad" type="box" size="0.004 0.012 0.025" mass="0.02" rgba=".2 .2 .2 1"/>
              </body>
            </body>
        {worldBodies}
          </worldbody>
          <equality>
            <weld body1="hand_target" body2="hand" solref="0.005 1"/>
          </equality>
          <actuator>
            <position name="grip_left" joint="left_finger" kp="2000" ctrlrange="0 {FingerTravel}" forcerange="-10 10"/>
            <position name="grip_right" joint="right_finger" kp="2000" ctrlrange="0 {FingerTravel}" forcerange="-10 10"/>
          </actuator>
        {extra}
        </mujoco>
        """);
}
