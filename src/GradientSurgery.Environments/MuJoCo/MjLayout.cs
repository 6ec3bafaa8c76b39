namespace GradientSurgery.Environments.MuJoCo;

// GENERATED from the MuJoCo 2.2.2 headers (/usr/include/mujoco, Debian package libmujoco-dev 2.2.2) by
// MuJoCo/layout/offsets.c; do not edit. Regenerate from src/GradientSurgery.Environments/MuJoCo/layout with
//   gcc -std=c11 -Wall -Werror -o /tmp/mj_offsets offsets.c && /tmp/mj_offsets > ../MjLayout.cs
// The structs change between MuJoCo versions, which is why MuJoCoLibrary refuses any version but 2.2.2.

/// <summary>Byte offsets of the mjModel and mjData fields read through pointers, and sizes, from the 2.2.2 headers.</summary>
internal static class MjLayout
{
    public const int HeaderVersion = 222;
    public const int SizeOfMjtNum = 8;
    public const int SizeOfWarningStat = 8;
    public const int WarningStatNumber = 4;
    public const int WarningCount = 8;
    public const int ModelNq = 0;
    public const int ModelNv = 4;
    public const int ModelNu = 8;
    public const int ModelNa = 12;
    public const int ModelNbody = 16;
    public const int ModelNjnt = 20;
    public const int ModelNgeom = 24;
    public const int ModelNsite = 28;
    public const int ModelNmocap = 156;
    public const int ModelOptTimestep = 232;
    public const int ModelJntQposadr = 1288;
    public const int ModelJntDofadr = 1296;
    public const int ModelBodyMocapid = 1136;
    public const int DataWarning = 24;
    public const int DataNcon = 40332;
    public const int DataTime = 40336;
    public const int DataQpos = 40376;
    public const int DataQvel = 40384;
    public const int DataCtrl = 40408;
    public const int DataMocapPos = 40432;
    public const int DataMocapQuat = 40440;
    public const int DataQacc = 40448;
    public const int DataXpos = 40480;
    public const int DataXquat = 40488;
    public const int DataSiteXpos = 40552;
    public const int DataSiteXmat = 40560;
}
