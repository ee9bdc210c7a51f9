// Clang thread-safety annotations. GCC ignores them (they expand to nothing);
// they still document which mutex guards what, and a clang build checks them.
#pragma once

#if defined(__clang__)
#define CV_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define CV_THREAD_ANNOTATION_(x)
#endif

#define CV_GUARDED_BY(m) CV_THREAD_ANNOTATION_(guarded_by(m))
#define CV_REQUIRES(...) CV_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define CV_EXCLUDES(...) CV_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
