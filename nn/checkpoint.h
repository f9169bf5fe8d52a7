// Module state in the safetensors format: an 8-byte little-endian header length, a JSON header mapping
// each tensor's name to {dtype, shape, data_offsets}, then the raw little-endian data. Names follow
// PyTorch's state_dict, so `safetensors.torch.load_file` reads our files directly.
//
// Writes are atomic (temporary file, fsync, rename): a crash never leaves a half-written checkpoint.
// Loading validates everything against the module and names the file and the tensor in any error. Two
// digests in the metadata, one of the data and one of the header (checkpoint.cpp says what each covers),
// make a byte damaged on disk an error; files written before the header digest existed still load.
#pragma once

#include <map>
#include <string>

#include "nn/module.h"

namespace ssl::nn {

using Metadata = std::map<std::string, std::string>;

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const Metadata& metadata = {});
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});

// Reads every tensor of a file (validated: header, offsets, dtypes, sizes; the tensors must fill the data
// section without gaps or overlaps, as the format requires).
std::map<std::string, Tensor> load_safetensors(const std::string& path, Metadata* metadata = nullptr);
// A file's metadata, from its header alone (validated as load_safetensors does, against the file's size).
Metadata read_safetensors_metadata(const std::string& path);
// Metadata entry `key` of the file at `path` as a positive integer (an image size, a class count); throws
// ssl::Error naming the file, the key and the text when it is missing or not one.
int64_t metadata_integer(const Metadata& metadata, const std::string& key, const std::string& path);
// Copies a file's tensors into the module's parameters and buffers; every name must match with the same
// shape and dtype, and nothing may be missing or left over.
void load_module(const std::string& path, Module& module, Metadata* metadata = nullptr);

// A short digest of a file's bytes (64-bit FNV-1a, 16 hex digits): it tells whether a file has changed,
// for example the encoder a fine-tuning run started from. Not a cryptographic hash. Throws ssl::Error
// naming the file when it cannot be read.
std::string file_fingerprint(const std::string& path);

// Whether `digits` is a process id as std::to_string writes it, of a process that no longer exists (in this
// machine's process namespace): the owner of a file or directory named after it was killed.
bool names_a_gone_process(const std::string& digits);

// Writes `bytes` to `path` atomically: a temporary file beside it (`<path>.tmp.<pid>`), fsync, rename. First
// removes the temporary files of `path` that killed writers left, those whose process no longer exists.
void write_file_atomically(const std::string& path, const std::string& bytes);
// Whether write_file_atomically(path, ...) could write now: makes the file's directory, creates its temporary
// file and removes it, throwing the error the write would. For commands that write only after their work.
void check_can_write(const std::string& path);

// Creates directory `path` and its parents (nothing when they exist); throws ssl::Error naming the path and
// the reason when it cannot.
void make_directories(const std::string& path);
// Creates the directory a file will be written to (nothing for a bare file name), as make_directories.
void make_parent_directories(const std::string& file_path);

}  // namespace ssl::nn
