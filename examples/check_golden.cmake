# Runs a command and checks that PREFIX followed by its standard output is
# exactly the bytes of the GOLDEN file (the examples print the continuation of
# a prompt; the golden transcript from `tern run` starts with the prompt echo).
#
#   cmake -DGOLDEN=file -DPREFIX=text -P check_golden.cmake -- PROGRAM [ARG...]
cmake_minimum_required(VERSION 3.20)

# The command is everything after "--" (cmake -P leaves those arguments alone).
set(cmd)
set(in_cmd FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(in_cmd)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(in_cmd TRUE)
  endif()
endforeach()
if(NOT cmd OR NOT DEFINED GOLDEN)
  message(FATAL_ERROR "usage: cmake -DGOLDEN=file -DPREFIX=text -P check_golden.cmake -- PROGRAM [ARG...]")
endif()

execute_process(COMMAND ${cmd} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${cmd} failed (${rc}):\n${err}")
endif()
file(READ "${GOLDEN}" golden)
if(NOT "${PREFIX}${out}" STREQUAL "${golden}")
  message(FATAL_ERROR "the output differs from ${GOLDEN}\n"
                      "expected:\n[${golden}]\n"
                      "got (the prefix, then the output):\n[${PREFIX}${out}]\nstderr:\n${err}")
endif()
message(STATUS "output matches ${GOLDEN}")
