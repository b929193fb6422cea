# vscsim_check_headers(<lib>): compiles each public header of <lib> alone in a
# translation unit of its own, so a header that forgets an include fails the build.
function(vscsim_check_headers lib)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_SOURCE_DIR}/include/vscsim/*.h)
  set(sources)
  foreach(header ${headers})
    file(RELATIVE_PATH rel ${CMAKE_CURRENT_SOURCE_DIR}/include ${header})
    string(MAKE_C_IDENTIFIER ${rel} id)
    set(src ${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cc)
    file(CONFIGURE OUTPUT ${src} CONTENT "#include \"${rel}\"\n")
    list(APPEND sources ${src})
  endforeach()
  add_library(${lib}_header_check OBJECT ${sources})
  target_link_libraries(${lib}_header_check PRIVATE ${lib})
endfunction()
