use super::*;

fn queue(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> QueueConfiguration {
    let mut rules = Vec::new();
    if let Some(prefix) = prefix {
        rules.push(FilterRule { name: Some(FilterRuleName::from_static("prefix")), value: Some(prefix.into()) });
    }
    if let Some(suffix) = suffix {
        rules.push(FilterRule { name: Some(FilterRuleName::from_static("Suffix")), value: Some(suffix.into()) });
    }
    QueueConfiguration {
        events: events.iter().map(|event| Event::from((*event).to_string())).collect(),
        filter: Some(NotificationConfigurationFilter { key: Some(S3KeyFilter { filter_rules: Some(rules) }) }),
        id: None,
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
    }
}

fn parsed(queues: Vec<QueueConfiguration>) -> S3Result<Rules> {
    parse(NotificationConfiguration { queue_configurations: Some(queues), ..Default::default() })
}

fn message(result: S3Result<Rules>) -> String {
    result.err().and_then(|error| error.message().map(str::to_string)).unwrap_or_default()
}

#[test]
fn overlapping_rules_for_one_event_are_ambiguous() {
    let ambiguous = "Configuration is ambiguously defined";
    let wildcard =
        parsed(vec![queue(&["s3:ObjectCreated:*"], None, None), queue(&["s3:ObjectCreated:Put"], None, None)]);
    assert!(message(wildcard).starts_with(ambiguous));
    let nested = parsed(vec![
        queue(&["s3:ObjectCreated:*"], Some("in/"), Some(".csv")),
        queue(&["s3:ObjectCreated:*"], Some("in/a"), Some("a.csv")),
    ]);
    assert!(message(nested).starts_with(ambiguous));
    // Disjoint prefixes, disjoint suffixes, or other events: no overlap.
    assert!(parsed(vec![
        queue(&["s3:ObjectCreated:*"], Some("in/"), None),
        queue(&["s3:ObjectCreated:*"], Some("out/"), None),
    ])
    .is_ok());
    assert!(parsed(vec![
        queue(&["s3:ObjectCreated:*"], None, Some(".csv")),
        queue(&["s3:ObjectCreated:*"], None, Some(".json")),
    ])
    .is_ok());
    assert!(
        parsed(vec![queue(&["s3:ObjectCreated:*"], None, None), queue(&["s3:ObjectRemoved:*"], None, None)]).is_ok()
    );
}

#[test]
fn unknown_events_and_filter_names_are_invalid_arguments() {
    assert_eq!(
        message(parsed(vec![queue(&["s3:ObjectCreated:Nope"], None, None)])),
        "The event is not supported for notifications"
    );
    let mut bad = queue(&["s3:ObjectCreated:*"], None, None);
    bad.filter = Some(NotificationConfigurationFilter {
        key: Some(S3KeyFilter {
            filter_rules: Some(vec![FilterRule { name: Some(FilterRuleName::from_static("middle")), value: None }]),
        }),
    });
    assert_eq!(message(parsed(vec![bad])), "filter rule name must be either prefix or suffix");
}

#[test]
fn rules_match_events_and_keys_and_render_back() {
    let rules = parsed(vec![queue(&["s3:ObjectCreated:*"], Some("in/"), Some(".csv"))]).unwrap();
    assert_eq!(rules.matching("s3:ObjectCreated:Put", "in/a.csv").count(), 1);
    assert_eq!(rules.matching("s3:ObjectRemoved:Delete", "in/a.csv").count(), 0);
    assert_eq!(rules.matching("s3:ObjectCreated:Copy", "out/a.csv").count(), 0);
    assert_eq!(rules.matching("s3:ObjectCreated:Copy", "in/a.json").count(), 0);
    // A generated id is base64 of a UUID.
    assert_eq!(rules.rules[0].id.len(), 48);
    let rendered = render(&rules);
    let filter = rendered.queue_configurations.unwrap()[0].filter.clone().unwrap().key.unwrap().filter_rules.unwrap();
    let names: Vec<&str> = filter.iter().map(|rule| rule.name.as_ref().unwrap().as_str()).collect();
    assert_eq!(names, ["Prefix", "Suffix"]);
}

#[test]
fn destinations_must_be_of_their_kind_and_the_buckets_region() {
    let lambda = "arn:aws:lambda:us-east-1:000000000000:function:f";
    assert!(destination_in_region(DestinationKind::Lambda, lambda, "us-east-1"));
    assert!(destination_in_region(DestinationKind::Lambda, &format!("{lambda}:live"), "us-east-1"));
    assert!(!destination_in_region(DestinationKind::Lambda, lambda, "eu-west-1"));
    assert!(!destination_in_region(DestinationKind::Queue, lambda, "us-east-1"));
    assert!(destination_in_region(DestinationKind::Queue, "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1"));
    assert!(!destination_in_region(DestinationKind::Topic, "nope", "us-east-1"));
}
