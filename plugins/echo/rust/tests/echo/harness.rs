//! The echo library through the SDK's in-process harness.

use molecule_echo::Echo;
use molecule_plugin::protocol::a2a::{Object, Part};
use molecule_plugin::testing::{TestHost, params, text_params};

#[tokio::test]
async fn echoes_through_the_sdk_harness() {
    let mut host = TestHost::start(Echo).await.unwrap();
    let init = host.init_result().unwrap();
    assert_eq!(
        init.capabilities.max_concurrency,
        Some(molecule_echo::MAX_CONCURRENCY)
    );
    let card = init.agent_card.clone().unwrap();
    assert!(card.description.unwrap().contains("echo: "));

    let r = host.handle_a2a(text_params("hi")).await.unwrap();
    assert_eq!(r.parts, vec![Part::text("echo: hi")]);

    let data = Part::data(Object::from_iter([("x".to_owned(), true.into())]));
    let r = host.handle_a2a(params(vec![data.clone()])).await.unwrap();
    assert_eq!(r.parts, vec![data]);

    let mut auto = text_params("echo: hi");
    auto.context.in_reply_to = Some("m-9".into());
    assert!(host.handle_a2a(auto).await.unwrap().parts.is_empty());
    host.close().await.unwrap();
}
