//! The functions each cache behaviour runs, as GetDistribution and ListDistributions carry them:
//! `LambdaFunctionAssociations` (Lambda@Edge: event type, versioned ARN, include-body) and
//! `FunctionAssociations` (CloudFront Functions: event type, ARN), on the default cache behaviour
//! and every other one.

use aws_sdk_cloudfront::types as cf;

use cf_doctor_model::functions::{FunctionAssociation, FunctionKind};

/// Every association of the default cache behaviour and of `others`, in that order.
pub fn associations(
    default: Option<&cf::DefaultCacheBehavior>,
    others: Option<&cf::CacheBehaviors>,
) -> Vec<FunctionAssociation> {
    let mut out = Vec::new();
    if let Some(b) = default {
        out.extend(of_behaviour(
            None,
            b.target_origin_id(),
            b.lambda_function_associations(),
            b.function_associations(),
        ));
    }
    for b in others.map(|o| o.items()).unwrap_or_default() {
        out.extend(of_behaviour(
            Some(b.path_pattern()),
            b.target_origin_id(),
            b.lambda_function_associations(),
            b.function_associations(),
        ));
    }
    out
}

fn of_behaviour(
    path_pattern: Option<&str>,
    target_origin_id: &str,
    lambdas: Option<&cf::LambdaFunctionAssociations>,
    functions: Option<&cf::FunctionAssociations>,
) -> Vec<FunctionAssociation> {
    let association =
        |kind, arn: &str, event_type: &cf::EventType, include_body| FunctionAssociation {
            kind,
            arn: arn.to_string(),
            event_type: event_type.as_str().to_string(),
            path_pattern: path_pattern.map(str::to_string),
            target_origin_id: target_origin_id.to_string(),
            include_body,
        };
    let lambdas = lambdas.map(|l| l.items()).unwrap_or_default();
    let functions = functions.map(|f| f.items()).unwrap_or_default();
    lambdas
        .iter()
        // Some answers carry empty elements for "none".
        .filter(|l| !l.lambda_function_arn().is_empty())
        .map(|l| {
            association(
                FunctionKind::LambdaEdge,
                l.lambda_function_arn(),
                l.event_type(),
                l.include_body().unwrap_or(false),
            )
        })
        .chain(
            functions
                .iter()
                .filter(|f| !f.function_arn().is_empty())
                .map(|f| {
                    association(
                        FunctionKind::CloudfrontFunction,
                        f.function_arn(),
                        f.event_type(),
                        false,
                    )
                }),
        )
        .collect()
}
