//! Where and how tensors compute: device choice, precision, memory layout, input normalisation.
//!
//! The same code runs on CPU and CUDA: a stage given GPUs trains on `cuda:0` (the engine has
//! already narrowed `CUDA_VISIBLE_DEVICES`), otherwise on the CPU with the stage's threads.
//! bf16 autocast and channels-last apply on CUDA only; on the CPU training is fp32, and the
//! stage's declared environment says so (it is part of the cache key).

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

/// The libtorch this build binds (tch 0.24.0's build script refuses any other).
pub const LIBTORCH_VERSION: &str = "2.11.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Fp32,
    /// bf16 autocast (weights and optimizer stay fp32); CUDA only.
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    /// What actually runs on this device class: bf16 only on CUDA.
    pub fn effective(self, cuda: bool) -> Precision {
        if cuda {
            self
        } else {
            Precision::Fp32
        }
    }
}

/// The device a stage with `gpus` assigned GPUs computes on.
pub fn device_for(gpus: &[u32]) -> Result<Device, String> {
    if gpus.is_empty() {
        return Ok(Device::Cpu);
    }
    if !tch::Cuda::is_available() {
        return Err(format!(
            "the stage was given GPU(s) {gpus:?} but libtorch sees no CUDA device; \
             is this binary linked against the CUDA libtorch (scripts/setup-libtorch.sh on the GPU machine)?"
        ));
    }
    // Fixed input shapes (the loader's batches are all one size): let cuDNN time its
    // algorithms once and keep the fastest.
    tch::Cuda::cudnn_set_benchmark(true);
    Ok(Device::Cuda(0))
}

pub fn device_class(device: Device) -> &'static str {
    if device.is_cuda() {
        "cuda"
    } else {
        "cpu"
    }
}

/// Make CUDA autocast use bf16 (libtorch's default is fp16; tch exposes no setter, so call
/// `at::autocast::set_autocast_dtype(DeviceType::CUDA, ScalarType::BFloat16)` from libtorch_cpu).
pub fn use_bf16_autocast() {
    extern "C" {
        // void at::autocast::set_autocast_dtype(c10::DeviceType, c10::ScalarType): both are
        // `enum class : int8_t`, so the Itanium C++ ABI passes them as C would pass two int8s.
        #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
        fn set_autocast_dtype(device: i8, dtype: i8);
    }
    const DEVICE_CUDA: i8 = 1; // c10::DeviceType::CUDA
    const SCALAR_BFLOAT16: i8 = 15; // c10::ScalarType::BFloat16
                                    // SAFETY: a plain setter of two enum values in libtorch's autocast state.
    unsafe { set_autocast_dtype(DEVICE_CUDA, SCALAR_BFLOAT16) }
}

/// Re-lay every 4-D variable channels-last (NHWC strides, NCHW shape), which cuDNN prefers.
pub fn to_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            if v.dim() == 4 {
                let nhwc = v.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
                v.set_data(&nhwc);
            }
        }
    });
}

/// Per-channel mean and standard deviation of pixel values in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl From<crate::data::stats::ChannelStats> for Normalization {
    fn from(s: crate::data::stats::ChannelStats) -> Normalization {
        Normalization {
            mean: s.mean,
            std: s.std,
        }
    }
}

impl Normalization {
    /// torchvision's ImageNet constants (for recipes that use them instead of measuring).
    pub fn imagenet() -> Normalization {
        Normalization {
            mean: crate::data::stats::IMAGENET_MEAN.to_vec(),
            std: crate::data::stats::IMAGENET_STD.to_vec(),
        }
    }

    /// u8 NHWC bytes → normalised float NCHW on `device`, three channels (grey is repeated so
    /// every architecture keeps torchvision's 3-channel stem). On CUDA the result stays
    /// channels-last in memory.
    pub fn to_input(
        &self,
        bytes: &[u8],
        n: usize,
        size: u32,
        channels: u32,
        device: Device,
    ) -> Tensor {
        let (s, c) = (size as i64, channels as i64);
        let host = Tensor::from_slice(bytes).view([n as i64, s, s, c]);
        let x = if device.is_cuda() {
            // Page-locked staging, then an asynchronous copy on the current stream: the host
            // goes on preparing the next batch while the bytes travel. libtorch's caching host
            // allocator keeps the pinned block alive until the copy has completed, and reuses
            // it, so pinning per batch does not allocate per batch.
            host.pin_memory(device)
                .to_device_(device, Kind::Uint8, true, false)
        } else {
            host
        };
        let mean = Tensor::from_slice(&self.mean)
            .to_kind(Kind::Float)
            .to_device(device);
        let std = Tensor::from_slice(&self.std)
            .to_kind(Kind::Float)
            .to_device(device);
        let x = (x.to_kind(Kind::Float) / 255.0 - mean) / std;
        let x = if c == 1 {
            x.expand([n as i64, s, s, 3], false)
        } else {
            x
        };
        // Contiguous NHWC viewed as NCHW is exactly PyTorch's channels-last layout.
        let x = x.contiguous().permute([0, 3, 1, 2]);
        if device.is_cuda() {
            x
        } else {
            x.contiguous()
        }
    }
}
