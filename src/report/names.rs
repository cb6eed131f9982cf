//! Display names of models for figures: "EfficientNet V2-L", not `efficientnet_v2_l`. Tables
//! keep the ids, which are what `stats.json` and the pipeline use.

/// The published name of a model id; an unknown id is shown as it is.
pub fn display_name(id: &str) -> String {
    let known = match id {
        "alexnet" => "AlexNet",
        "vgg19" => "VGG-19",
        "inception_v3" => "Inception V3",
        "resnet152" => "ResNet-152",
        "densenet161" => "DenseNet-161",
        "mobilenet_v3_large" => "MobileNet V3-L",
        "efficientnet_v2_l" => "EfficientNet V2-L",
        "vit_b_16" => "ViT-B/16",
        "convnext_large" => "ConvNeXt-L",
        _ => return id.to_string(),
    };
    known.to_string()
}

/// `label` in at most two lines of about `width` characters, split at the space nearest the
/// middle: long column headers side by side then do not run into each other.
pub fn two_lines(label: &str, width: usize) -> Vec<String> {
    if label.chars().count() <= width {
        return vec![label.to_string()];
    }
    let mid = label.len() / 2;
    let split = label
        .match_indices(' ')
        .map(|(i, _)| i)
        .min_by_key(|&i| i.abs_diff(mid));
    match split {
        Some(i) => vec![label[..i].to_string(), label[i + 1..].to_string()],
        None => vec![label.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_wrapping() {
        assert_eq!(display_name("efficientnet_v2_l"), "EfficientNet V2-L");
        assert_eq!(display_name("my_net"), "my_net");
        assert_eq!(two_lines("short", 20), vec!["short"]);
        assert_eq!(
            two_lines("mini-ImageNot fine-tuned from Fashion-MNIST", 20),
            vec!["mini-ImageNot fine-tuned", "from Fashion-MNIST"]
        );
    }
}
