/* flowfill's declaration of the OpenFX property suite (see core.h for where it comes from). */
#ifndef FLOWFILL_OFX_PROPERTY_H
#define FLOWFILL_OFX_PROPERTY_H

#include "ofx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define kOfxPropertySuite "OfxPropertySuite"

/* Version 1 of the suite. Every call names a property and a dimension index; the N forms
 * move `count` values at once. Getters of strings return pointers owned by the set. */
typedef struct OfxPropertySuiteV1 {
  OfxStatus (*propSetPointer)(OfxPropertySetHandle set, const char *name, int index, void *value);
  OfxStatus (*propSetString)(OfxPropertySetHandle set, const char *name, int index,
                             const char *value);
  OfxStatus (*propSetDouble)(OfxPropertySetHandle set, const char *name, int index, double value);
  OfxStatus (*propSetInt)(OfxPropertySetHandle set, const char *name, int index, int value);
  OfxStatus (*propSetPointerN)(OfxPropertySetHandle set, const char *name, int count,
                               void *const *values);
  OfxStatus (*propSetStringN)(OfxPropertySetHandle set, const char *name, int count,
                              const char *const *values);
  OfxStatus (*propSetDoubleN)(OfxPropertySetHandle set, const char *name, int count,
                              const double *values);
  OfxStatus (*propSetIntN)(OfxPropertySetHandle set, const char *name, int count,
                           const int *values);
  OfxStatus (*propGetPointer)(OfxPropertySetHandle set, const char *name, int index, void **value);
  OfxStatus (*propGetString)(OfxPropertySetHandle set, const char *name, int index, char **value);
  OfxStatus (*propGetDouble)(OfxPropertySetHandle set, const char *name, int index, double *value);
  OfxStatus (*propGetInt)(OfxPropertySetHandle set, const char *name, int index, int *value);
  OfxStatus (*propGetPointerN)(OfxPropertySetHandle set, const char *name, int count,
                               void **values);
  OfxStatus (*propGetStringN)(OfxPropertySetHandle set, const char *name, int count,
                              char **values);
  OfxStatus (*propGetDoubleN)(OfxPropertySetHandle set, const char *name, int count,
                              double *values);
  OfxStatus (*propGetIntN)(OfxPropertySetHandle set, const char *name, int count, int *values);
  OfxStatus (*propReset)(OfxPropertySetHandle set, const char *name);
  OfxStatus (*propGetDimension)(OfxPropertySetHandle set, const char *name, int *count);
} OfxPropertySuiteV1;

#ifdef __cplusplus
}
#endif

#endif
