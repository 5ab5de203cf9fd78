# The layers of Sazesh and what each may use. Two checks share this table:
#  - sazesh_check_layer_links(), at configure time: a library's transitive link closure holds
#    none of its forbidden targets (the domain links neither RocksDB nor librdkafka, say);
#  - tools/check-layers.cmake, run by ctest as `layers`: every #include in a layer's files (as its
#    library lists them, sources and headers) names only the folders and vendor headers it may
#    use.
#
# Each entry: folder | library | folders it may include (besides its own) | vendor headers it
# may include (regular expressions over the <...> path); "-" for none.
set(SAZESH_LAYERS
  "engine/base|sazesh_base|-|-"
  "engine/time|sazesh_time|engine/base|-"
  "engine/record|sazesh_record|engine/base,engine/time,schemas|flatbuffers/,sodium,openssl/"
  "engine/domain|sazesh_domain|engine/base,engine/time,engine/record,schemas|flatbuffers/"
  "engine/log|sazesh_log|engine/base,engine/time,engine/record,schemas|rocksdb/"
  "engine/kafka|sazesh_kafka|engine/base,engine/time,engine/record,engine/log,schemas|librdkafka/,flatbuffers/"
  "engine|sazesh_engine|engine/base,engine/time,engine/record,engine/domain,engine/log,schemas|flatbuffers/"
  "projections|sazesh_projections|engine/base,engine/time,engine/record,engine/domain,engine/log,schemas|rocksdb/"
)

# Vendor libraries and the layers whose link closure may hold them (a static library's private
# dependencies reach those that link it): none of base, time, record and domain may.
set(SAZESH_VENDOR_TARGETS "RocksDB::rocksdb-shared|engine/log,engine/kafka,engine,projections"
                          "PkgConfig::rdkafka|engine/kafka")


function(_sazesh_link_closure target out)
  set(seen "")
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(type ${t} TYPE)
    set(deps "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(d IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
      list(APPEND todo ${d})
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(sazesh_check_layer_links)
  set(all_libs "")
  foreach(entry IN LISTS SAZESH_LAYERS)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 1 lib)
    list(APPEND all_libs ${lib})
  endforeach()
  foreach(entry IN LISTS SAZESH_LAYERS)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 folder)
    list(GET parts 1 lib)
    list(GET parts 2 allowed)
    string(REPLACE "," ";" allowed "${allowed}")
    _sazesh_link_closure(${lib} closure)
    # Another layer's library is reachable only if its folder may be included.
    foreach(other_entry IN LISTS SAZESH_LAYERS)
      string(REPLACE "|" ";" other "${other_entry}")
      list(GET other 0 other_folder)
      list(GET other 1 other_lib)
      if(other_lib STREQUAL lib OR other_folder IN_LIST allowed)
        continue()
      endif()
      if(other_lib IN_LIST closure)
        message(FATAL_ERROR "layers: ${lib} (${folder}) links ${other_lib} (${other_folder}), "
                            "which cmake/layers.cmake does not allow it to use")
      endif()
    endforeach()
    foreach(vendor_entry IN LISTS SAZESH_VENDOR_TARGETS)
      string(REPLACE "|" ";" vendor "${vendor_entry}")
      list(GET vendor 0 vendor_target)
      list(GET vendor 1 owners)
      string(REPLACE "," ";" owners "${owners}")
      if(vendor_target IN_LIST closure AND NOT folder IN_LIST owners)
        message(FATAL_ERROR "layers: ${lib} (${folder}) links ${vendor_target}; only ${owners} may")
      endif()
    endforeach()
  endforeach()
  _sazesh_write_layer_files(${PROJECT_BINARY_DIR}/layer_files.cmake)
endfunction()

# Writes, for tools/check-layers.cmake, each layer's files as its library lists them (sources and
# headers, relative to the source tree): SAZESH_LAYER_FILES_<library>.
function(_sazesh_write_layer_files out)
  set(content "# Written by cmake/layers.cmake at configure time: the files of each layer's library.\n")
  foreach(entry IN LISTS SAZESH_LAYERS)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 folder)
    list(GET parts 1 lib)
    get_target_property(sources ${lib} SOURCES)
    set(files "")
    foreach(src IN LISTS sources)
      if(IS_ABSOLUTE "${src}")
        file(RELATIVE_PATH src "${PROJECT_SOURCE_DIR}" "${src}")
      else()
        set(src "${folder}/${src}")
      endif()
      list(APPEND files "${src}")
    endforeach()
    string(APPEND content "set(SAZESH_LAYER_FILES_${lib} \"${files}\")\n")
  endforeach()
  file(WRITE "${out}" "${content}")
endfunction()
