/// Serialized `tensorboard.Event` messages, with the field numbers of TensorBoard's protos:
/// `compat/proto/event.proto` (Event), `summary.proto` (Summary, Summary.Value, SummaryMetadata),
/// `tensor.proto` and `tensor_shape.proto` (TensorProto), `plugins/hparams/plugin_data.proto`
/// (HParamsPluginData, SessionStartInfo) and `google/protobuf/struct.proto` (Value).
enum TensorBoardEvent {
    /// What every event file starts with.
    static let fileVersion = "brain.Event:2"
    /// The tag the hparams plugin reads a run's hyper-parameters from.
    static let sessionStartInfoTag = "_hparams_/session_start_info"

    /// A hyper-parameter value the hparams plugin can show (it takes scalars only).
    enum HyperparameterValue: Equatable {
        case number(Double)
        case string(String)
        case bool(Bool)
    }

    /// `Event { wall_time = 1; file_version = 3 }`, the file's first record.
    static func fileHeader(wallTime: Double) -> [UInt8] {
        var event = ProtobufMessage()
        event.double(1, wallTime)
        event.string(3, fileVersion)
        return event.bytes
    }

    /// A scalar as `Summary.Value.simple_value` (field 2, a float), which TensorBoard's scalars
    /// dashboard reads.
    static func scalar(tag: String, value: Float, step: Int, wallTime: Double) -> [UInt8] {
        summaryEvent(step: step, wallTime: wallTime) { summaryValue in
            summaryValue.string(1, tag)
            summaryValue.float(2, value)
        }
    }

    /// Text for the `text` plugin: a one-element `DT_STRING` tensor (field 8) and plugin metadata
    /// (field 9) naming the plugin, with an empty `TextPluginData` and `DATA_CLASS_TENSOR`.
    static func text(tag: String, text: String, step: Int, wallTime: Double) -> [UInt8] {
        summaryEvent(step: step, wallTime: wallTime) { summaryValue in
            summaryValue.string(1, tag)
            summaryValue.message(9) { metadata in
                metadata.message(1) { pluginData in pluginData.string(1, "text") }
                metadata.int(4, 2)
            }
            summaryValue.message(8) { tensor in
                tensor.int(1, 7)  // DT_STRING
                tensor.message(2) { shape in shape.message(2) { dimension in dimension.int(1, 1) } }
                tensor.string(8, text)
            }
        }
    }

    /// The hparams plugin's session start: `HParamsPluginData { session_start_info = 3 {
    /// hparams = 1 (map<string, Value>); start_time_secs = 5 } }` as the plugin data's content,
    /// under the tag ``sessionStartInfoTag``.
    static func sessionStart(hyperparameters: [(name: String, value: HyperparameterValue)], startTime: Double,
                             wallTime: Double) -> [UInt8] {
        var startInfo = ProtobufMessage()
        for (name, value) in hyperparameters {
            startInfo.message(1) { entry in
                entry.string(1, name)
                entry.message(2) { protobufValue in
                    switch value {
                    case let .number(number): protobufValue.double(2, number)
                    case let .string(text): protobufValue.string(3, text)
                    case let .bool(flag): protobufValue.bool(4, flag)
                    }
                }
            }
        }
        startInfo.double(5, startTime)
        var pluginContent = ProtobufMessage()
        pluginContent.message(3, startInfo)
        return summaryEvent(step: 0, wallTime: wallTime) { summaryValue in
            summaryValue.string(1, sessionStartInfoTag)
            summaryValue.message(9) { metadata in
                metadata.message(1) { pluginData in
                    pluginData.string(1, "hparams")
                    pluginData.bytes(2, pluginContent.bytes)
                }
            }
        }
    }

    /// `Event { wall_time = 1; step = 2; summary = 5 { value = 1 { … } } }`.
    private static func summaryEvent(step: Int, wallTime: Double, _ buildValue: (inout ProtobufMessage) -> Void) -> [UInt8] {
        var event = ProtobufMessage()
        event.double(1, wallTime)
        event.int(2, Int64(step))
        event.message(5) { summary in summary.message(1, buildValue) }
        return event.bytes
    }
}
