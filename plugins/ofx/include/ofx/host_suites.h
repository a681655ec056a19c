/* flowfill's declarations of the small OpenFX host suites: memory, multi-threading, messages
 * and progress (see core.h for where they come from). */
#ifndef FLOWFILL_OFX_HOST_SUITES_H
#define FLOWFILL_OFX_HOST_SUITES_H

#include "ofx/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Memory: plain allocations from the host's pool. */
#define kOfxMemorySuite "OfxMemorySuite"
typedef struct OfxMemorySuiteV1 {
  OfxStatus (*memoryAlloc)(void *handle, size_t bytes, void **data);
  OfxStatus (*memoryFree)(void *data);
} OfxMemorySuiteV1;

/* Multi-threading: run a function on several host threads; recursive-count mutexes. */
#define kOfxMultiThreadSuite "OfxMultiThreadSuite"
typedef struct OfxMutex *OfxMutexHandle;
typedef void(OfxThreadFunctionV1)(unsigned int threadIndex, unsigned int threadMax, void *arg);
typedef struct OfxMultiThreadSuiteV1 {
  OfxStatus (*multiThread)(OfxThreadFunctionV1 func, unsigned int threads, void *arg);
  OfxStatus (*multiThreadNumCPUs)(unsigned int *cpus);
  OfxStatus (*multiThreadIndex)(unsigned int *index);
  int (*multiThreadIsSpawnedThread)(void);
  OfxStatus (*mutexCreate)(OfxMutexHandle *mutex, int lockCount);
  OfxStatus (*mutexDestroy)(const OfxMutexHandle mutex);
  OfxStatus (*mutexLock)(const OfxMutexHandle mutex);
  OfxStatus (*mutexUnLock)(const OfxMutexHandle mutex);
  OfxStatus (*mutexTryLock)(const OfxMutexHandle mutex);
} OfxMultiThreadSuiteV1;

/* Messages to the user. Version 2 adds messages that stay on the effect until cleared. */
#define kOfxMessageSuite "OfxMessageSuite"
#define kOfxMessageFatal "OfxMessageFatal"
#define kOfxMessageError "OfxMessageError"
#define kOfxMessageWarning "OfxMessageWarning"
#define kOfxMessageMessage "OfxMessageMessage"
#define kOfxMessageLog "OfxMessageLog"
#define kOfxMessageQuestion "OfxMessageQuestion"
typedef struct OfxMessageSuiteV1 {
  OfxStatus (*message)(void *handle, const char *messageType, const char *messageId,
                       const char *format, ...);
} OfxMessageSuiteV1;
typedef struct OfxMessageSuiteV2 {
  OfxStatus (*message)(void *handle, const char *messageType, const char *messageId,
                       const char *format, ...);
  OfxStatus (*setPersistentMessage)(void *handle, const char *messageType,
                                    const char *messageId, const char *format, ...);
  OfxStatus (*clearPersistentMessage)(void *handle);
} OfxMessageSuiteV2;

/* Progress bar of an effect instance; progressUpdate answers kOfxStatReplyNo when the user
 * asked to stop. */
#define kOfxProgressSuite "OfxProgressSuite"
typedef struct OfxProgressSuiteV1 {
  OfxStatus (*progressStart)(void *effectInstance, const char *label);
  OfxStatus (*progressUpdate)(void *effectInstance, double progress);
  OfxStatus (*progressEnd)(void *effectInstance);
} OfxProgressSuiteV1;

#ifdef __cplusplus
}
#endif

#endif
