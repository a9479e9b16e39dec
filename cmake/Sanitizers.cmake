# BGCOPY_ENABLE_{ASAN,UBSAN,TSAN}: applied to every target in the tree.
# BGCOPY_BUILD_FUZZERS (top-level option) adds libFuzzer's coverage instrumentation
# (fuzzer-no-link) to every target as well, so the fuzz targets see edges inside the parsers they
# call; only the fuzz targets themselves link libFuzzer (-fsanitize=fuzzer, fuzz/CMakeLists.txt).
option(BGCOPY_ENABLE_ASAN "AddressSanitizer" OFF)
option(BGCOPY_ENABLE_UBSAN "UndefinedBehaviorSanitizer" OFF)
option(BGCOPY_ENABLE_TSAN "ThreadSanitizer" OFF)
set(_san "")
if(BGCOPY_ENABLE_ASAN)
  list(APPEND _san address)
endif()
if(BGCOPY_ENABLE_UBSAN)
  list(APPEND _san undefined)
endif()
if(BGCOPY_ENABLE_TSAN)
  list(APPEND _san thread)
endif()
if(BGCOPY_BUILD_FUZZERS)
  list(APPEND _san fuzzer-no-link)
endif()
if(_san)
  list(JOIN _san "," _san_list)
  add_compile_options(-fsanitize=${_san_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san_list})
endif()

# clang links the sanitizer runtimes (and libFuzzer's coverage callbacks) into executables only,
# so a sanitized shared library has those symbols undefined until an executable loads it; a
# library that links with --no-undefined must skip that check when this is ON.
set(BGCOPY_SANITIZED_SHARED_LIBS_HAVE_UNDEFINED OFF)
if(_san AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(BGCOPY_SANITIZED_SHARED_LIBS_HAVE_UNDEFINED ON)
endif()
