// The few PortAudio declarations the callback needs, written from the public PortAudio ABI
// (portaudio.h, v19) so that building dx7live needs no PortAudio headers: sounddevice loads
// the library at run time and hands our function pointer to Pa_OpenStream.
#pragma once

extern "C" {

typedef struct PaStreamCallbackTimeInfo {
  double inputBufferAdcTime;   // when the first input sample was captured (stream clock, s)
  double currentTime;          // when the callback was invoked (stream clock, s)
  double outputBufferDacTime;  // when the first output sample will be played (stream clock, s)
} PaStreamCallbackTimeInfo;

typedef unsigned long PaStreamCallbackFlags;

// statusFlags bits
constexpr PaStreamCallbackFlags kPaInputUnderflow = 0x00000001;
constexpr PaStreamCallbackFlags kPaInputOverflow = 0x00000002;
constexpr PaStreamCallbackFlags kPaOutputUnderflow = 0x00000004;
constexpr PaStreamCallbackFlags kPaOutputOverflow = 0x00000008;
constexpr PaStreamCallbackFlags kPaPrimingOutput = 0x00000010;

constexpr int kPaContinue = 0;

// Same signature as PaStreamCallback.
int dx7live_stream_callback(const void* input, void* output, unsigned long frameCount,
                            const PaStreamCallbackTimeInfo* timeInfo, PaStreamCallbackFlags statusFlags,
                            void* userData);
}
