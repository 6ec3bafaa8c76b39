namespace GradientSurgery.Environments.MuJoCo;

/// <summary>Kinds of named MuJoCo object, for <see cref="MjModel.NameToId"/> (mjtObj of the 2.2.2 header mjmodel.h, same values).</summary>
public enum MjObjectType
{
    /// <summary>mjOBJ_UNKNOWN.</summary>
    Unknown = 0,

    /// <summary>mjOBJ_BODY: a body (its inertial frame).</summary>
    Body = 1,

    /// <summary>mjOBJ_XBODY: a body, for its regular frame rather than its inertial one.</summary>
    XBody = 2,

    /// <summary>mjOBJ_JOINT.</summary>
    Joint = 3,

    /// <summary>mjOBJ_DOF: a degree of freedom.</summary>
    Dof = 4,

    /// <summary>mjOBJ_GEOM.</summary>
    Geom = 5,

    /// <summary>mjOBJ_SITE.</summary>
    Site = 6,

    /// <summary>mjOBJ_CAMERA.</summary>
    Camera = 7,

    /// <summary>mjOBJ_LIGHT.</summary>
    Light = 8,

    /// <summary>mjOBJ_MESH.</summary>
    Mesh = 9,

    /// <summary>mjOBJ_SKIN.</summary>
    Skin = 10,

    /// <summary>mjOBJ_HFIELD: a height field.</summary>
    HeightField = 11,

    /// <summary>mjOBJ_TEXTURE.</summary>
    Texture = 12,

    /// <summary>mjOBJ_MATERIAL.</summary>
    Material = 13,

    /// <summary>mjOBJ_PAIR: a geom pair to include.</summary>
    Pair = 14,

    /// <summary>mjOBJ_EXCLUDE: a body pair to exclude.</summary>
    Exclude = 15,

    /// <summary>mjOBJ_EQUALITY: an equality constraint.</summary>
    Equality = 16,

    /// <summary>mjOBJ_TENDON.</summary>
    Tendon = 17,

    /// <summary>mjOBJ_ACTUATOR.</summary>
    Actuator = 18,

    /// <summary>mjOBJ_SENSOR.</summary>
    Sensor = 19,

    /// <summary>mjOBJ_NUMERIC: a numeric custom field.</summary>
    Numeric = 20,

    /// <summary>mjOBJ_TEXT: a text custom field.</summary>
    Text = 21,

    /// <summary>mjOBJ_TUPLE: a tuple custom field.</summary>
    Tuple = 22,

    /// <summary>mjOBJ_KEY: a keyframe.</summary>
    Key = 23,
}
