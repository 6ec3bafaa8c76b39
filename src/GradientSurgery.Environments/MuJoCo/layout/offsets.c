// Writes MjLayout.cs: the byte offsets of the mjModel and mjData fields that GradientSurgery reads, taken from the
// MuJoCo 2.2.2 headers of Debian's libmujoco-dev (apt-get install libmujoco-dev). Regenerate, from this directory:
//   gcc -std=c11 -Wall -Werror -o /tmp/mj_offsets offsets.c && /tmp/mj_offsets > ../MjLayout.cs
// Nothing compiles this file at build time: the C# side only reads the constants it printed.
#include <stddef.h>
#include <stdio.h>
#include <mujoco/mujoco.h>

#if mjVERSION_HEADER != 222
#error "These offsets must come from the MuJoCo 2.2.2 headers"
#endif

#define FIELD(type, name, field) printf("    public const int %s = %zu;\n", name, offsetof(type, field))

int main(void) {
  puts("namespace GradientSurgery.Environments.MuJoCo;");
  puts("");
  puts("// GENERATED from the MuJoCo 2.2.2 headers (/usr/include/mujoco, Debian package libmujoco-dev 2.2.2) by");
  puts("// MuJoCo/layout/offsets.c; do not edit. Regenerate from src/GradientSurgery.Environments/MuJoCo/layout with");
  puts("//   gcc -std=c11 -Wall -Werror -o /tmp/mj_offsets offsets.c && /tmp/mj_offsets > ../MjLayout.cs");
  puts("// The structs change between MuJoCo versions, which is why MuJoCoLibrary refuses any version but 2.2.2.");
  puts("");
  puts("/// <summary>Byte offsets of the mjModel and mjData fields read through pointers, and sizes, from the 2.2.2 headers.</summary>");
  puts("internal static class MjLayout");
  puts("{");
  printf("    public const int HeaderVersion = %d;\n", mjVERSION_HEADER);
  printf("    public const int SizeOfMjtNum = %zu;\n", sizeof(mjtNum));
  printf("    public const int SizeOfWarningStat = %zu;\n", sizeof(mjWarningStat));
  printf("    public const int WarningStatNumber = %zu;\n", offsetof(mjWarningStat, number));
  printf("    public const int WarningCount = %d;\n", mjNWARNING);

  FIELD(mjModel, "ModelNq", nq);
  FIELD(mjModel, "ModelNv", nv);
  FIELD(mjModel, "ModelNu", nu);
  FIELD(mjModel, "ModelNa", na);
  FIELD(mjModel, "ModelNbody", nbody);
  FIELD(mjModel, "ModelNjnt", njnt);
  FIELD(mjModel, "ModelNgeom", ngeom);
  FIELD(mjModel, "ModelNsite", nsite);
  FIELD(mjModel, "ModelNmocap", nmocap);
  FIELD(mjModel, "ModelOptTimestep", opt.timestep);
  FIELD(mjModel, "ModelJntQposadr", jnt_qposadr);
  FIELD(mjModel, "ModelJntDofadr", jnt_dofadr);
  FIELD(mjModel, "ModelBodyMocapid", body_mocapid);

  FIELD(mjData, "DataWarning", warning);
  FIELD(mjData, "DataNcon", ncon);
  FIELD(mjData, "DataTime", time);
  FIELD(mjData, "DataQpos", qpos);
  FIELD(mjData, "DataQvel", qvel);
  FIELD(mjData, "DataCtrl", ctrl);
  FIELD(mjData, "DataMocapPos", mocap_pos);
  FIELD(mjData, "DataMocapQuat", mocap_quat);
  FIELD(mjData, "DataQacc", qacc);
  FIELD(mjData, "DataXpos", xpos);
  FIELD(mjData, "DataXquat", xquat);
  FIELD(mjData, "DataSiteXpos", site_xpos);
  FIELD(mjData, "DataSiteXmat", site_xmat);
  puts("}");
  return 0;
}
