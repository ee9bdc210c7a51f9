# Builds each layering probe of tests/CMakeLists.txt and checks that it
# fails, or compiles, as it should:
#   cmake -DBUILD_DIR=... -DFAIL="t1;t2" -DPASS="t3" -P check.cmake
cmake_minimum_required(VERSION 3.25)

foreach(target IN LISTS FAIL PASS)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${target}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(target IN_LIST FAIL)
    if(rc EQUAL 0)
      message(FATAL_ERROR "${target} compiled: a layer sees a header it must not")
    endif()
    if(NOT "${out}${err}" MATCHES "No such file or directory")
      message(FATAL_ERROR "${target} failed for another reason than a missing header:\n${out}${err}")
    endif()
    message(STATUS "${target}: refused, as it must be")
  else()
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${target} did not compile:\n${out}${err}")
    endif()
    message(STATUS "${target}: compiles")
  endif()
endforeach()
