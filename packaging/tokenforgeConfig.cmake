# CMake package of an installed tokenforge: find_package(tokenforge) then
# target_link_libraries(app tokenforge::tokenforge), or tokenforge::tokenforge_static.
# Relocatable: paths are found from this file's place, <prefix>/lib/cmake/tokenforge.
get_filename_component(_tokenforge_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET tokenforge::tokenforge)
  add_library(tokenforge::tokenforge SHARED IMPORTED)
  set_target_properties(tokenforge::tokenforge PROPERTIES
    IMPORTED_LOCATION "${_tokenforge_prefix}/lib/libtokenforge.so"
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${_tokenforge_prefix}/include")
endif()

if(NOT TARGET tokenforge::tokenforge_static)
  find_package(Threads REQUIRED)
  add_library(tokenforge::tokenforge_static STATIC IMPORTED)
  set_target_properties(tokenforge::tokenforge_static PROPERTIES
    IMPORTED_LOCATION "${_tokenforge_prefix}/lib/libtokenforge.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_tokenforge_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
endif()

unset(_tokenforge_prefix)
