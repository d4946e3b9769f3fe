/*  fl_version.c - the version of the running libfl (see fl_version.h, which
    CMake generates from cmake/fl_version.h.in). */
#include "fl_version.h"

const char *
fl_version (void)
{
    return FL_VERSION_STRING;
}
