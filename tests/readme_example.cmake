# readme_example.cmake - the README's usage example must compile warning-free and do what it
# says: print the counter (1, then 2 after a restart), close the heap and the file.
# Run by CTest: cmake -DREADME=... -DCC=... -DINC=... -DLIB=... -DWORK=... -P this file.
file(READ "${README}" text)
string(FIND "${text}" "```c\n#include <stdio.h>" start)
if(start LESS 0)
  message(FATAL_ERROR "README: no usage example (```c block starting with #include <stdio.h>)")
endif()
string(SUBSTRING "${text}" ${start} -1 rest)
string(LENGTH "```c\n" skip)
string(SUBSTRING "${rest}" ${skip} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} code)
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/readme_example.c" "${code}")
file(REMOVE "${WORK}/heap.img")
execute_process(COMMAND "${CC}" -std=c11 -Wall -Wextra -Werror -I "${INC}"
                        "${WORK}/readme_example.c" "${LIB}" -o "${WORK}/readme_example"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README example does not compile warning-free:\n${out}")
endif()
foreach(expect 1 2)
  execute_process(COMMAND "${WORK}/readme_example" WORKING_DIRECTORY "${WORK}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "counter: ${expect}\n")
    message(FATAL_ERROR "README example, run ${expect}: exit ${rc}, printed '${out}' ${err}")
  endif()
endforeach()
message(STATUS "README example: compiles warning-free, counts 1 then 2 across a restart")
