/* flowfill's declarations of the OpenFX parameter API (see core.h for where it comes from). */
#ifndef FLOWFILL_OFX_PARAM_H
#define FLOWFILL_OFX_PARAM_H

#include "ofx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct OfxParamStruct *OfxParamHandle;
typedef struct OfxParamSetStruct *OfxParamSetHandle;

#define kOfxTypeParameter "OfxTypeParameter"
#define kOfxTypeParameterInstance "OfxTypeParameterInstance"

/* Parameter types (the paramType argument of paramDefine). */
#define kOfxParamTypeInteger "OfxParamTypeInteger"
#define kOfxParamTypeDouble "OfxParamTypeDouble"
#define kOfxParamTypeBoolean "OfxParamTypeBoolean"
#define kOfxParamTypeChoice "OfxParamTypeChoice"
#define kOfxParamTypeString "OfxParamTypeString"
#define kOfxParamTypeGroup "OfxParamTypeGroup"
#define kOfxParamTypePage "OfxParamTypePage"

/* Parameter properties. */
#define kOfxParamPropType "OfxParamPropType"
#define kOfxParamPropScriptName "OfxParamPropScriptName"
#define kOfxParamPropHint "OfxParamPropHint"
#define kOfxParamPropDefault "OfxParamPropDefault"
#define kOfxParamPropAnimates "OfxParamPropAnimates"
#define kOfxParamPropEvaluateOnChange "OfxParamPropEvaluateOnChange"
#define kOfxParamPropParent "OfxParamPropParent"
#define kOfxParamPropEnabled "OfxParamPropEnabled"
#define kOfxParamPropSecret "OfxParamPropSecret"
#define kOfxParamPropChoiceOption "OfxParamPropChoiceOption"
#define kOfxParamPropMin "OfxParamPropMin"
#define kOfxParamPropMax "OfxParamPropMax"
#define kOfxParamPropDisplayMin "OfxParamPropDisplayMin"
#define kOfxParamPropDisplayMax "OfxParamPropDisplayMax"
#define kOfxParamPropStringMode "OfxParamPropStringMode"
#define kOfxParamPropStringFilePathExists "OfxParamPropStringFilePathExists"
#define kOfxParamStringIsSingleLine "OfxParamStringIsSingleLine"
#define kOfxParamStringIsMultiLine "OfxParamStringIsMultiLine"
#define kOfxParamStringIsFilePath "OfxParamStringIsFilePath"
#define kOfxParamStringIsDirectoryPath "OfxParamStringIsDirectoryPath"
#define kOfxParamStringIsLabel "OfxParamStringIsLabel"

#define kOfxParameterSuite "OfxParameterSuite"

/* Version 1 of the parameter suite. The value calls are variadic: an int* for integer,
 * boolean and choice parameters, a double* for doubles, a char** for strings. */
typedef struct OfxParameterSuiteV1 {
  OfxStatus (*paramDefine)(OfxParamSetHandle set, const char *paramType, const char *name,
                           OfxPropertySetHandle *props);
  OfxStatus (*paramGetHandle)(OfxParamSetHandle set, const char *name, OfxParamHandle *param,
                              OfxPropertySetHandle *props);
  OfxStatus (*paramSetGetPropertySet)(OfxParamSetHandle set, OfxPropertySetHandle *props);
  OfxStatus (*paramGetPropertySet)(OfxParamHandle param, OfxPropertySetHandle *props);
  OfxStatus (*paramGetValue)(OfxParamHandle param, ...);
  OfxStatus (*paramGetValueAtTime)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetDerivative)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetIntegral)(OfxParamHandle param, OfxTime time1, OfxTime time2, ...);
  OfxStatus (*paramSetValue)(OfxParamHandle param, ...);
  OfxStatus (*paramSetValueAtTime)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetNumKeys)(OfxParamHandle param, unsigned int *count);
  OfxStatus (*paramGetKeyTime)(OfxParamHandle param, unsigned int nth, OfxTime *time);
  OfxStatus (*paramGetKeyIndex)(OfxParamHandle param, OfxTime time, int direction, int *index);
  OfxStatus (*paramDeleteKey)(OfxParamHandle param, OfxTime time);
  OfxStatus (*paramDeleteAllKeys)(OfxParamHandle param);
  OfxStatus (*paramCopy)(OfxParamHandle to, OfxParamHandle from, OfxTime offset,
                         const OfxRangeD *range);
  OfxStatus (*paramEditBegin)(OfxParamSetHandle set, const char *name);
  OfxStatus (*paramEditEnd)(OfxParamSetHandle set);
} OfxParameterSuiteV1;

#ifdef __cplusplus
}
#endif

#endif
