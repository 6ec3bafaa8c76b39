namespace GradientSurgery.Environments.MuJoCo;

/// <summary>The kinds of warning MuJoCo counts in mjData (mjtWarning of the 2.2.2 header mjdata.h, same values).</summary>
public enum MjWarning
{
    /// <summary>mjWARN_INERTIA: (near) singular inertia matrix.</summary>
    Inertia = 0,

    /// <summary>mjWARN_CONTACTFULL: too many contacts for the contact list.</summary>
    ContactFull = 1,

    /// <summary>mjWARN_CNSTRFULL: too many constraints.</summary>
    ConstraintFull = 2,

    /// <summary>mjWARN_VGEOMFULL: too many visual geoms.</summary>
    VisualGeomFull = 3,

    /// <summary>mjWARN_BADQPOS: a NaN, infinity or huge value in qpos; MuJoCo reset the data.</summary>
    BadQpos = 4,

    /// <summary>mjWARN_BADQVEL: a NaN, infinity or huge value in qvel; MuJoCo reset the data.</summary>
    BadQvel = 5,

    /// <summary>mjWARN_BADQACC: a NaN, infinity or huge value in qacc (the simulation diverged); MuJoCo reset the data.</summary>
    BadQacc = 6,

    /// <summary>mjWARN_BADCTRL: a NaN, infinity or huge value in ctrl; MuJoCo zeroed the controls.</summary>
    BadCtrl = 7,
}
