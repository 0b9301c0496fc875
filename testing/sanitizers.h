// KVSTORE_SANITIZED: 1 in a build under a sanitizer that brings its own allocator and shadow
// memory (address, thread, memory, hwaddress), else 0. For tests and tools that must scale down or
// skip what such a build cannot do (glibc's malloc statistics, an address-space cap).
#ifndef KVSTORE_TESTING_SANITIZERS_H_
#define KVSTORE_TESTING_SANITIZERS_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KVSTORE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer) || __has_feature(hwaddress_sanitizer)
#define KVSTORE_SANITIZED 1
#endif
#endif
#ifndef KVSTORE_SANITIZED
#define KVSTORE_SANITIZED 0
#endif

#endif  // KVSTORE_TESTING_SANITIZERS_H_
