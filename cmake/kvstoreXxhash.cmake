# Finds xxHash (Debian's libxxhash-dev, which ships a .pc file but no CMake config) and makes the
# imported target kvstore::xxhash. Used by CMakeLists.txt and, installed, by kvstoreConfig.cmake.
# kvstore/internal/hash.h uses xxHash header-only (XXH_INLINE_ALL) plus the library's run-time
# dispatch for long inputs, so the target carries both the header path and the library.
if(NOT TARGET kvstore::xxhash)
  find_path(KVSTORE_XXHASH_INCLUDE_DIR xxhash.h)
  find_library(KVSTORE_XXHASH_LIBRARY NAMES xxhash)
  if(NOT KVSTORE_XXHASH_INCLUDE_DIR OR NOT KVSTORE_XXHASH_LIBRARY)
    message(FATAL_ERROR
        "kvstore: xxHash not found (xxhash.h: ${KVSTORE_XXHASH_INCLUDE_DIR}, "
        "libxxhash: ${KVSTORE_XXHASH_LIBRARY}); on Debian: apt-get install libxxhash-dev")
  endif()
  add_library(kvstore::xxhash UNKNOWN IMPORTED)
  set_target_properties(kvstore::xxhash PROPERTIES
      IMPORTED_LOCATION "${KVSTORE_XXHASH_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${KVSTORE_XXHASH_INCLUDE_DIR}")
endif()
