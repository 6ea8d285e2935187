#pragma once
// Any.PackFrom with deterministic serialization. weftd compares and versions resources by their
// bytes, and some hold protobuf maps (Struct metadata, RBAC policies, jwt_authn providers) whose
// wire order would otherwise follow each map's hash seed and change from one build of the same
// config to the next.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

namespace weft::control::xds {

inline void pack(google::protobuf::Any& any, const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&out);
  }
  any.set_type_url("type.googleapis.com/" + m.GetDescriptor()->full_name());
  any.set_value(std::move(bytes));
}

}  // namespace weft::control::xds
