# Warning set for every bgcopy target. -Werror only when BGCOPY_WERROR is on (CI presets).
option(BGCOPY_WERROR "Treat warnings as errors" OFF)
add_library(bgcopy_warnings INTERFACE)
target_compile_options(bgcopy_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(BGCOPY_WERROR)
  target_compile_options(bgcopy_warnings INTERFACE -Werror)
endif()
