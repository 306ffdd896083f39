# CTest script: run vnv-check and check its exit status and output; any sanitizer report
# fails the test whatever the exit status (ASan and UBSan also exit with status 1).
#   cmake -DCHECK=vnv-check -DARG=image-or-option -DRC=1 -DEXPECT=regex -P check_image.cmake
execute_process(COMMAND ${CHECK} ${ARG} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("exit status ${rc}\n--- stdout\n${out}--- stderr\n${err}---")
if(err MATCHES "Sanitizer|runtime error")
  message(FATAL_ERROR "sanitizer report")
endif()
if(NOT rc STREQUAL "${RC}")
  message(FATAL_ERROR "exit status ${rc}, expected ${RC}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "output does not match '${EXPECT}'")
endif()
